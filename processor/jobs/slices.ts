/** The longest pause after a slice, whatever its duration. */
export const MAX_PAUSE_MS = 1_000;

/**
 * The next slice's width (ms of event time) after one of `width` took `ms`: scaled towards
 * `targetMs`, by at most 4× either way, at least 1.
 */
export function nextSliceWidth(width: number, ms: number, targetMs: number): number {
  return Math.max(1, Math.round(width * Math.min(4, Math.max(0.25, targetMs / Math.max(ms, 1)))));
}

/**
 * Pauses `ratio` times a slice's duration `ms` (at most {@link MAX_PAUSE_MS}), so that a job
 * takes at most 1 / (1 + ratio) of one database connection's time.
 */
export async function pauseAfterSlice(ms: number, ratio: number | undefined): Promise<void> {
  const pause = Math.min(MAX_PAUSE_MS, ms * (ratio ?? 0));
  if (pause >= 1) await new Promise((r) => setTimeout(r, pause));
}
