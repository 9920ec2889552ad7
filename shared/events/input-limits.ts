/**
 * The maximum lengths of the event fields goal matching reads. Matching cost is linear in these
 * inputs (see `shared/matching/goal-matcher.ts`), so these bounds are what keeps one event
 * cheap: at most about 0.1 ms per regex goal and less for the other operators. Ingest answers
 * 400 beyond the request limits; the Kafka message schema enforces the stored limits, so the
 * processor never matches anything longer.
 */

/** A page URL as sent by a tracker (characters). */
export const MAX_URL_LENGTH = 8192;
/** The normalized, percent-decoded path pageview goals match (characters). */
export const MAX_PATH_LENGTH = 2048;
/** A custom event's name (characters). */
export const MAX_EVENT_NAME_LENGTH = 200;
/** A custom event's properties, as JSON (bytes); so is every property value within them. */
export const MAX_PROPERTIES_BYTES = 4096;
