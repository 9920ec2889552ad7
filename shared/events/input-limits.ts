/**
 * The documented maximum lengths of what collect accepts, in characters (bytes for
 * properties): ingest answers 400 beyond them, and the Kafka message schema enforces the
 * stored ones, so the processor never matches anything longer. Goal matching and statistics
 * filters run over these fields in time linear in their length (see
 * `shared/matching/goal-matcher.ts`), so these bounds are what keeps one event cheap: at most
 * about 0.1 ms per regex goal and less for the other operators.
 */
export const EVENT_LIMITS = {
  /** A page URL as the Sparklytics payload sends it. */
  url: 8192,
  /** A page path after normalization (percent-decoded), and Rybbit's `pathname`. */
  path: 2048,
  /** Rybbit's `querystring`. */
  querystring: 2048,
  /** A custom event's name (Sparklytics' own payload allows 50). */
  eventName: 200,
  /** A client's visitor or user id. */
  clientId: 200,
  /** Event properties as JSON (every property value is within it). */
  propertiesBytes: 4096,
} as const;

/** A string without U+0000, which PostgreSQL text cannot hold. */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
