import { Type, type Static } from '@sinclair/typebox';

/** Sparklytics' attribution answer, plus the goal's currency (ours). */
export const AttributionSchema = Type.Object({
  goal_id: Type.String(),
  model: Type.Union([Type.Literal('first_touch'), Type.Literal('last_touch')]),
  currency: Type.String({ description: 'the goal’s currency (values are not converted)' }),
  rows: Type.Array(
    Type.Object({
      channel: Type.String({ description: '"<source> / <medium>"' }),
      conversions: Type.Integer(),
      revenue: Type.Number(),
      share: Type.Number({ description: 'of all conversions, 0–1' }),
    }),
  ),
  totals: Type.Object({ conversions: Type.Integer(), revenue: Type.Number() }),
});
export type Attribution = Static<typeof AttributionSchema>;

export const RevenueSummarySchema = Type.Object({
  goal_id: Type.String(),
  model: Type.Union([Type.Literal('first_touch'), Type.Literal('last_touch')]),
  currency: Type.String(),
  conversions: Type.Integer(),
  revenue: Type.Number(),
});
