import type { Db } from '../../shared/db/pool.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { Logger } from '../../shared/logger.js';
import { hostOfOrigin } from '../intake/origin.js';

/** Whether some website lists an origin (see OriginIndex). */
export interface OriginSource {
  listed(origin: string): boolean;
}

/**
 * Every origin some website lists, for CORS preflights: a website's domain (and its
 * subdomains, as the Origin check of the POST accepts them) and its `allowed_origins` hosts.
 * Held in memory and refreshed in the background every `refreshMs` (like the website cache), so
 * a preflight never waits for the database; a website created or changed is listed within that
 * time. A failed refresh keeps the last index.
 */
export class OriginIndex implements OriginSource {
  private domains = new Set<string>();
  private hosts = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly refreshMs = 30_000,
  ) {}

  /** Loads the index (a failure is logged; the next refresh tries again) and keeps it fresh. */
  async start(): Promise<void> {
    await this.refresh().catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'origin_index_refresh_failed'),
    );
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: Error) =>
        this.logger.warn({ err: err.message }, 'origin_index_refresh_failed'),
      );
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    const domains = new Set<string>();
    const hosts = new Set<string>();
    for (const w of await websiteRepository.originsOfAll(this.db)) {
      const d = hostOfOrigin(w.domain);
      if (d) domains.add(d);
      for (const o of w.allowed_origins) {
        const h = hostOfOrigin(o);
        if (h) hosts.add(h);
      }
    }
    this.domains = domains;
    this.hosts = hosts;
  }

  listed(origin: string): boolean {
    const host = hostOfOrigin(origin);
    if (host === null) return false;
    if (this.hosts.has(host)) return true;
    // The host or any parent domain of it is some website's domain.
    for (let at = 0; at !== -1; at = host.indexOf('.', at + 1)) {
      if (this.domains.has(at === 0 ? host : host.slice(at + 1))) return true;
    }
    return false;
  }
}
