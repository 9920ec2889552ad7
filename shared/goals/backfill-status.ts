import { Type, type Static } from '@sinclair/typebox';

/**
 * `goals.backfill`: the progress of the backfill of a goal's current definition version. The
 * API writes the queued state with every new version; the backfill worker moves it on, only
 * while the goal is still at that version.
 */
export const BackfillStatusSchema = Type.Object({
  state: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('done'),
    Type.Literal('failed'),
  ]),
  /** 0..1 */
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  events_scanned: Type.Integer({ minimum: 0 }),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  definition_version: Type.Integer({ minimum: 1 }),
  /** Why a `failed` backfill failed. */
  error: Type.Optional(Type.String()),
});
export type BackfillStatus = Static<typeof BackfillStatusSchema>;

/** The state a goal's backfill starts in whenever its definition version changes. */
export function queuedBackfill(definitionVersion: number): BackfillStatus {
  return {
    state: 'queued',
    progress: 0,
    events_scanned: 0,
    started_at: null,
    finished_at: null,
    definition_version: definitionVersion,
  };
}
