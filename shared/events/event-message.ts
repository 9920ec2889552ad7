import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PermanentError } from '../errors/errors.js';
import {
  EVENT_SCHEMA_VERSION,
  EventMessageSchema,
  type EventMessage,
} from './event-message.schema.js';
import {
  BINARY_MARKER,
  decodeEventBinary,
  encodeEventBinary,
  UnknownLayoutError,
} from './event-binary.codec.js';

// The message's schema has a file of its own, which the binary codec reads too.
export {
  AUTOCAPTURE_EVENT_TYPES,
  EVENT_TYPES,
  type EventType,
  EVENT_SCHEMA_VERSION,
  EventMessageSchema,
  type EventMessage,
} from './event-message.schema.js';

const checker = TypeCompiler.Compile(EventMessageSchema);

/**
 * How ingest writes messages: `binary` (event-binary.codec.ts: compact, written into a shared
 * buffer) or `json` (the text of the message, as every version before binary wrote). Processors
 * read both, whatever ingest's setting: upgrade processors first, then switch ingest.
 */
export const EVENT_ENCODINGS = ['binary', 'json'] as const;
export type EventEncoding = (typeof EVENT_ENCODINGS)[number];

export function encodeEvent(ev: EventMessage, encoding: EventEncoding = 'binary'): Buffer {
  return encoding === 'binary' ? encodeEventBinary(ev) : Buffer.from(JSON.stringify(ev));
}

/**
 * Decodes (either encoding, told apart by the first byte) and schema-checks a Kafka message
 * value. Throws PermanentError (the message can never be processed: dead-letter it) for
 * undecodable bytes, an unknown schema version or layout, or a schema violation.
 */
export function decodeEvent(value: Buffer | null): EventMessage {
  if (value === null || value.length === 0) {
    throw new PermanentError('message has no value', 'empty');
  }
  let parsed: unknown;
  if (value[0] === BINARY_MARKER) {
    try {
      parsed = decodeEventBinary(value, EVENT_SCHEMA_VERSION);
    } catch (err) {
      if (err instanceof UnknownLayoutError) {
        throw new PermanentError(err.message, 'schema_version', { cause: err });
      }
      throw new PermanentError('message is not a valid binary event', 'undecodable', {
        cause: err,
      });
    }
  } else {
    try {
      parsed = JSON.parse(value.toString('utf8'));
    } catch (err) {
      throw new PermanentError('message is not valid JSON', 'undecodable', { cause: err });
    }
  }
  const v = (parsed as { v?: unknown } | null)?.v;
  if (v !== EVENT_SCHEMA_VERSION) {
    throw new PermanentError(`unsupported schema version ${JSON.stringify(v)}`, 'schema_version');
  }
  if (!checker.Check(parsed)) {
    const first = checker.Errors(parsed).First();
    throw new PermanentError(
      `schema violation at ${first?.path ?? '?'}: ${first?.message ?? 'invalid'}`,
      'schema_violation',
    );
  }
  return parsed;
}
