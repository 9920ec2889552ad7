import fc from 'fast-check';

/**
 * fast-check arbitraries generated from a route's own JSON schema (TypeBox schemas are JSON
 * Schema): values of the declared shape, and hostile variants of them (wrong types, huge and
 * deeply nested values, unicode with lone surrogates, NUL, prototype keys, unknown and missing
 * fields). Used by test/e2e/generated-input.test.ts.
 */

/** The JSON Schema keywords the generator reads (all TypeBox emits for request schemas). */
export interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  patternProperties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/**
 * Domain values by property name (ids of the test's websites, dates, …), preferred over the
 * schema's own generator five times to one; array items are asked for as `name[]`.
 */
export type Hints = (name: string) => readonly unknown[] | undefined;

/** Strings that have broken parsers before: unicode edge cases, NUL, escapes, injections. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d\ude00',
  '\ufeff',
  '\u202e',
  'İ',
  'ß',
  'ΣΑΣ',
  'ς',
  'e\u0301',
  '\r\n',
  '%',
  '%00',
  '%zz',
  '%ED%A0%80',
  "'; DROP TABLE goals; --",
  '$1',
  '\\',
  '\\x{41}',
  '(?<n>a)',
  '\\p{L}',
  '.*.*.*.*=',
  '**/**/**',
  '*',
  '[',
  '(',
  '{{',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'prototype',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '9007199254740993',
  '99999999999999999999999',
  '2026-02-30',
  '0000-00-00',
  '9999-12-31',
  '2026-01-01T25:00:00Z',
  '+05:30',
  'US/Pacific-New',
  'true',
  '[]',
  '{}',
  '[{"parameter":"constructor","type":"equals","value":["x"]}]',
  '<script>alert(1)</script>',
];

const WRONG_TYPES: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, '', [], {}, [null]),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A value nested `depth` levels deep, as arrays or objects. */
export function deeplyNested(depth: number, asObject: boolean): unknown {
  let v: unknown = asObject ? { x: 1 } : [1];
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

export const unicodeString = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({
      unit: fc.constantFrom('\ud800', '\udc00', 'İ', 'ß', 'σ', 'ς', '\u0000', 'a', '/', '*'),
      maxLength,
    }),
  );

/** Huge strings: just under, at and over common limits (the body limits included). */
const hugeString = fc
  .constantFrom(201, 501, 2049, 8193, 20_000, 60_000, 101 * 1024, 1_100_000)
  .chain((n) => fc.constantFrom('a', 'é', '/', '*', '\u0000', '🙂').map((c) => c.repeat(n)));

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 3, arbitrary: unicodeString(40) },
  { weight: 1, arbitrary: hugeString },
);

function typesOf(s: JsonSchema): string[] {
  if (s.type === undefined) return [];
  return Array.isArray(s.type) ? s.type : [s.type];
}

function validString(s: JsonSchema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 60, 60);
  if (s.pattern !== undefined) {
    const re = new RegExp(s.pattern);
    return fc.stringMatching(re).filter((x) => x.length >= min && x.length <= (s.maxLength ?? 1e9));
  }
  return fc.oneof(
    fc.string({ minLength: min, maxLength: Math.max(min, max) }),
    fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.max(min, max) }),
  );
}

/**
 * A value of the schema's shape. `name` is the property it is generated for (its hints);
 * optional properties are present about half the time.
 */
export function validArb(s: JsonSchema, hints: Hints, name = ''): fc.Arbitrary<unknown> {
  const hinted = name === '' ? undefined : hints(name);
  const own = shapeArb(s, hints, name);
  return hinted && hinted.length > 0
    ? fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...hinted) }, { weight: 1, arbitrary: own })
    : own;
}

function shapeArb(s: JsonSchema, hints: Hints, name: string): fc.Arbitrary<unknown> {
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...alts.map((a) => shapeArb(a, hints, name)));
  if (s.allOf) return shapeArb(Object.assign({}, ...s.allOf) as JsonSchema, hints, name);
  const types = typesOf(s);
  if (types.length > 1)
    return fc.oneof(...types.map((t) => shapeArb({ ...s, type: t }, hints, name)));
  switch (types[0]) {
    case 'object': {
      if (s.properties) {
        const shape: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [k, v] of Object.entries(s.properties)) shape[k] = validArb(v, hints, k);
        return fc.record(shape, { requiredKeys: s.required ?? [] });
      }
      const values = s.patternProperties ? Object.values(s.patternProperties)[0]! : {};
      return fc.dictionary(fc.string({ maxLength: 10 }), validArb(values, hints), { maxKeys: 4 });
    }
    case 'array':
      return fc.array(validArb(s.items ?? {}, hints, `${name}[]`), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 4, 4),
      });
    case 'string':
      return validString(s);
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({
        min: s.minimum ?? -1e9,
        max: s.maximum ?? 1e9,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      // Unknown / any.
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Own, enumerable `key`, so JSON.stringify writes it (also for `__proto__`). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

type Path = Array<string | number>;

/** Every path into a JSON value down to depth 20 (the root included; deep values stay whole). */
function pathsOf(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (at.length >= 20) return out;
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

function getAt(v: unknown, p: Path): unknown {
  let cur = v;
  for (const k of p) cur = (cur as Record<string | number, unknown>)[k];
  return cur;
}

function replaceAt(v: unknown, p: Path, x: unknown): unknown {
  if (p.length === 0) return x;
  const parent = getAt(v, p.slice(0, -1)) as Record<string, unknown>;
  setOwn(parent, String(p[p.length - 1]), x);
  return v;
}

/** One change that makes a value hostile, applied at a random place inside it. */
type Mutation =
  | { kind: 'replace'; with: unknown }
  | { kind: 'addKey'; key: string; value: unknown }
  | { kind: 'dropKey' };

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: WRONG_TYPES.map((w) => ({ kind: 'replace' as const, with: w })) },
  { weight: 4, arbitrary: hostileString.map((w) => ({ kind: 'replace' as const, with: w })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(3, 50, 500, 2_000), fc.boolean())
      .map(([d, o]) => ({ kind: 'replace' as const, with: deeplyNested(d, o) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 6 }), hostileString),
        fc.oneof(
          WRONG_TYPES,
          fc.constant({ polluted: true }),
          fc.constant({ prototype: { x: 1 } }),
        ),
      )
      .map(([key, value]) => ({ kind: 'addKey' as const, key, value })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'dropKey' as const }) },
);

function applyMutation(v: unknown, m: Mutation, pick: number): unknown {
  const copy: unknown = v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as unknown);
  const paths = pathsOf(copy);
  if (m.kind === 'replace') {
    return replaceAt(copy, paths[pick % paths.length]!, m.with);
  }
  const objects = paths.filter((p) => {
    const x = getAt(copy, p);
    return typeof x === 'object' && x !== null && !Array.isArray(x);
  });
  if (objects.length === 0) return m.kind === 'addKey' ? { [m.key]: m.value } : copy;
  const target = getAt(copy, objects[pick % objects.length]!) as Record<string, unknown>;
  if (m.kind === 'addKey') setOwn(target, m.key, m.value);
  else {
    const keys = Object.keys(target);
    if (keys.length > 0) delete target[keys[pick % keys.length]!];
  }
  return copy;
}

/** A value of the schema's shape with one to three hostile changes inside it. */
export function hostileArb(s: JsonSchema, hints: Hints): fc.Arbitrary<unknown> {
  return fc
    .tuple(
      validArb(s, hints),
      fc.array(fc.tuple(mutationArb, fc.nat()), { minLength: 1, maxLength: 3 }),
    )
    .map(([v, ms]) => ms.reduce<unknown>((acc, [m, pick]) => applyMutation(acc, m, pick), v));
}

/** Either shape: about half valid, half hostile. */
export function valueArb(s: JsonSchema | undefined, hints: Hints): fc.Arbitrary<unknown> {
  const schema = s ?? {};
  return fc.oneof(validArb(schema, hints), hostileArb(schema, hints));
}

export { hostileString, WRONG_TYPES };
