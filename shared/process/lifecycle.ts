import type { Logger } from '../logger.js';

/**
 * Wires SIGINT/SIGTERM to one idempotent `stop()`; a second signal while stopping forces
 * exit. Unhandled rejections are logged and stop the process (better a clean restart by the
 * supervisor than a half-working one).
 */
export function handleSignals(logger: Logger, stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  const once = () => {
    stopping ??= stop().then(
      () => logger.info('stopped'),
      (err: unknown) => {
        logger.error({ err }, 'stop_failed');
        process.exitCode = 1;
      },
    );
    return stopping;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) {
        logger.warn({ signal: sig }, 'forced_exit');
        process.exit(1);
      }
      logger.info({ signal: sig }, 'stopping');
      void once();
    });
  }
  process.on('unhandledRejection', (err) => {
    logger.error({ err }, 'unhandled_rejection');
    process.exitCode = 1;
    void once();
  });
  return once;
}
