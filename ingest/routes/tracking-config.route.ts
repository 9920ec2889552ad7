import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TrackingSettingsSchema } from '../../shared/goals/tracking-settings.js';
import type { WebsiteSource } from '../intake/intake.js';

/**
 * `GET /api/site/tracking-config/:siteId`: the website's autocapture switches, which the real
 * Rybbit tracker fetches from its own host and Goalpost's tracker reads too. Answered from the
 * website lookup (in memory, refreshed in the background like every website setting), public
 * (`Access-Control-Allow-Origin: *`, no credentials): the switches say nothing a page's own
 * tracker would not reveal. Unknown or malformed site → 404 `{"error":"Site not found"}`.
 */
export const trackingConfigRoutes: FastifyPluginAsyncTypebox<{ websites: WebsiteSource }> = async (
  app,
  deps,
) => {
  app.get(
    '/api/site/tracking-config/:siteId',
    {
      schema: {
        summary: 'What the trackers capture on their own for a website',
        params: Type.Object({ siteId: Type.String({ maxLength: 64 }) }),
        response: {
          200: TrackingSettingsSchema,
          404: Type.Object({ error: Type.String() }),
        },
      },
    },
    async (req, reply) => {
      void reply
        .header('access-control-allow-origin', '*')
        .header('cache-control', 'public, max-age=60');
      const site = await deps.websites.get(req.params.siteId);
      if (site === null) return reply.status(404).send({ error: 'Site not found' });
      return site.tracking;
    },
  );
};
