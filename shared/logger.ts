import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; `service` is on every line. */
export function createLogger(service: string, level: string): Logger {
  return pino({ name: service, level, base: { service } });
}
