import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_FILE_EXTENSIONS } from './goal-definition.js';

/**
 * What the trackers capture on their own for one website (`websites.tracking`, migration 015):
 * read by ingest's `GET /api/site/tracking-config/:siteId` and by Goalpost's own tracker,
 * changed through the websites API. Keys missing from the stored object take their defaults,
 * so a new switch never needs a data migration.
 */
export const TrackingSettingsSchema = Type.Object({
  trackOutbound: Type.Boolean({ description: 'clicks on links to other hosts; default on' }),
  trackFileDownloads: Type.Boolean({
    description: 'clicks on links to files with an extension of fileExtensions; default on',
  }),
  trackButtonClicks: Type.Boolean({ description: 'button clicks; default off' }),
  trackCopy: Type.Boolean({ description: 'text copied from the page; default off' }),
  trackFormInteractions: Type.Boolean({
    description: 'form submissions (and, in the Rybbit tracker, input changes); default off',
  }),
  fileExtensions: Type.Array(Type.String(), {
    description: "lower-case extensions without the dot; default Plausible's list",
  }),
});
export type TrackingSettings = Static<typeof TrackingSettingsSchema>;

export const DEFAULT_TRACKING_SETTINGS: Readonly<TrackingSettings> = Object.freeze({
  trackOutbound: true,
  trackFileDownloads: true,
  trackButtonClicks: false,
  trackCopy: false,
  trackFormInteractions: false,
  fileExtensions: [...DEFAULT_FILE_EXTENSIONS],
});

const SWITCHES = [
  'trackOutbound',
  'trackFileDownloads',
  'trackButtonClicks',
  'trackCopy',
  'trackFormInteractions',
] as const;

/** The effective settings from the stored object: defaults for anything missing or malformed. */
export function trackingSettingsOf(stored: unknown): TrackingSettings {
  const s = (stored !== null && typeof stored === 'object' ? stored : {}) as Record<
    string,
    unknown
  >;
  const out: TrackingSettings = {
    ...DEFAULT_TRACKING_SETTINGS,
    fileExtensions: [...DEFAULT_TRACKING_SETTINGS.fileExtensions],
  };
  for (const k of SWITCHES) if (typeof s[k] === 'boolean') out[k] = s[k];
  const ext = s.fileExtensions;
  if (Array.isArray(ext) && ext.every((e) => typeof e === 'string')) out.fileExtensions = ext;
  return out;
}
