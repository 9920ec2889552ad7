import type { IHeaders } from 'kafkajs';

/**
 * The headers of a dead letter: written by the events consumer when it gives up on a message,
 * read (and stripped before a replay) by `npm run cli -- dlq`. One module, so both sides agree
 * on the names.
 */
export const DLQ_HEADERS = {
  reason: 'x-goalpost-dlq-reason',
  error: 'x-goalpost-dlq-error',
  sourceTopic: 'x-goalpost-source-topic',
  sourcePartition: 'x-goalpost-source-partition',
  sourceOffset: 'x-goalpost-source-offset',
  at: 'x-goalpost-dlq-at',
  /** Set on a message the CLI re-sent to the events topic: `dlq@<offset>`. */
  replayedFrom: 'x-goalpost-replayed-from',
} as const;

const DLQ_HEADER_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

/** Why and from where a message became a dead letter. */
export interface DeadLetterOrigin {
  reason: string;
  error: string;
  topic: string;
  partition: number;
  offset: string;
  at: Date;
}

/** The message's own headers plus the dead-letter headers. */
export function deadLetterHeaders(own: IHeaders | undefined, o: DeadLetterOrigin): IHeaders {
  return {
    ...own,
    [DLQ_HEADERS.reason]: o.reason,
    [DLQ_HEADERS.error]: o.error.slice(0, 500),
    [DLQ_HEADERS.sourceTopic]: o.topic,
    [DLQ_HEADERS.sourcePartition]: String(o.partition),
    [DLQ_HEADERS.sourceOffset]: o.offset,
    [DLQ_HEADERS.at]: o.at.toISOString(),
  };
}

/**
 * The headers a replayed dead letter is sent back with: its own headers without any that
 * Goalpost's dead-lettering or an earlier replay added, plus where it was replayed from.
 */
export function replayHeaders(headers: IHeaders | undefined, dlqOffset: string): IHeaders {
  const own = Object.fromEntries(
    Object.entries(headers ?? {}).filter(([k]) => !DLQ_HEADER_NAMES.has(k)),
  );
  return { ...own, [DLQ_HEADERS.replayedFrom]: `dlq@${dlqOffset}` };
}
