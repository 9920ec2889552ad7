/**
 * The path that pageview goals match, taken from whatever URL the tracker sent.
 *
 * Rules (one place, so ingest enrichment, the processor and backfills agree):
 * - `scheme://authority` and protocol-relative `//authority` are removed; anything else is
 *   already a path (`/x`, `x` → `/x`). A string like `about:blank` or `localhost:3000/x` has no
 *   `//`, so it is treated as a relative path (`/about:blank`), never guessed at.
 * - The query string is dropped, and so is the fragment, except a hash route: a fragment that
 *   starts with `/` (`#/settings`) is part of the path, up to its own `?` or next `#`:
 *   `https://x.com/app#/settings?tab=1` → `/app#/settings`, and also
 *   `https://x.com/app?x=1#/settings` → `/app#/settings` (the route is what the user sees).
 * - Percent-encoding is decoded, tolerantly: every valid UTF-8 `%XX` sequence is decoded (all of
 *   them, `%2F` → `/` included, like `decodeURIComponent`), anything malformed (`/50%_off`,
 *   `%E0%A4%A`, overlongs, surrogates) stays as written. `%00` is never decoded and a raw NUL
 *   becomes `%00`, because PostgreSQL text cannot hold U+0000. `+` is not a space in paths.
 * - The result always starts with `/`; a trailing slash is kept and significant
 *   (`/pricing/` ≠ `/pricing`); empty or whitespace-only input gives `/`. Dot segments are not
 *   resolved (browsers send resolved URLs). No Unicode normalization is applied.
 *
 * Nothing here throws, whatever the input.
 */

/** URL parts as found in the text; `rawPath` and `query` still percent-encoded. */
interface RawUrlParts {
  hostname: string | null;
  rawPath: string;
  query: string;
}

/** `scheme://` or `//` at the start: an absolute or protocol-relative URL with an authority. */
const AUTHORITY_PREFIX = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\//;
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

function splitRaw(url: string): RawUrlParts {
  let rest = url.trim();
  let hostname: string | null = null;
  const prefix = AUTHORITY_PREFIX.exec(rest);
  if (prefix !== null) {
    const afterPrefix = rest.slice(prefix[0].length);
    const end = afterPrefix.search(/[/?#]/);
    const authority = end === -1 ? afterPrefix : afterPrefix.slice(0, end);
    hostname = hostnameFromAuthority(authority);
    rest = end === -1 ? '' : afterPrefix.slice(end);
  }

  const pathEnd = rest.search(/[?#]/);
  const path = pathEnd === -1 ? rest : rest.slice(0, pathEnd);
  let query = '';
  let fragment: string | null = null;
  if (pathEnd !== -1) {
    const hashAt = rest.indexOf('#', pathEnd);
    if (rest[pathEnd] === '?')
      query = hashAt === -1 ? rest.slice(pathEnd) : rest.slice(pathEnd, hashAt);
    if (hashAt !== -1) fragment = rest.slice(hashAt + 1);
  }

  let rawPath = path.startsWith('/') ? path : `/${path}`;
  if (fragment !== null && fragment.startsWith('/')) {
    // Hash routing (`#/settings`): the route belongs to the path; its own `?query` and a
    // second `#anchor` do not.
    const routeEnd = fragment.search(/[?#]/);
    rawPath += `#${routeEnd === -1 ? fragment : fragment.slice(0, routeEnd)}`;
    // A hash-routed app keeps its parameters after the route; use them when the real query is
    // empty, so campaign parameters are still found.
    if (query === '' && routeEnd !== -1 && fragment[routeEnd] === '?') {
      const anchorAt = fragment.indexOf('#', routeEnd);
      query = anchorAt === -1 ? fragment.slice(routeEnd) : fragment.slice(routeEnd, anchorAt);
    }
  }
  // Like WHATWG `URL.search`: a bare `?` is no query.
  return { hostname, rawPath, query: query === '?' ? '' : query };
}

/** `user:pass@Host.COM:8080` → `host.com`; `[::1]:3000` → `[::1]`; empty → `null`. */
function hostnameFromAuthority(authority: string): string | null {
  let host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    host = close === -1 ? host : host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  host = host.toLowerCase();
  return host === '' ? null : host;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[i]` (1–4), or 0 when the bytes
 * there are not one (stray continuation byte, truncated sequence, overlong form, surrogate,
 * beyond U+10FFFF). Ranges from RFC 3629 §4.
 */
function utf8SequenceLength(bytes: number[], i: number): number {
  const b0 = bytes[i] as number;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) return cont(1) ? 2 : 0;
  if (b0 < 0xf0) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 < 0xf5) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Decodes one run of `%XX` escapes, keeping every byte that is not valid UTF-8 as written. */
function decodeRun(run: string): string {
  const bytes: number[] = [];
  for (let k = 0; k < run.length; k += 3) bytes.push(parseInt(run.slice(k + 1, k + 3), 16));
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const len = bytes[i] === 0 ? 0 : utf8SequenceLength(bytes, i);
    if (len === 0) {
      out += run.slice(i * 3, i * 3 + 3);
      i += 1;
      continue;
    }
    const b = bytes.slice(i, i + len) as [number, number?, number?, number?];
    let cp: number;
    if (len === 1) cp = b[0];
    else if (len === 2) cp = ((b[0] & 0x1f) << 6) | ((b[1] as number) & 0x3f);
    else if (len === 3)
      cp = ((b[0] & 0x0f) << 12) | (((b[1] as number) & 0x3f) << 6) | ((b[2] as number) & 0x3f);
    else
      cp =
        ((b[0] & 0x07) << 18) |
        (((b[1] as number) & 0x3f) << 12) |
        (((b[2] as number) & 0x3f) << 6) |
        ((b[3] as number) & 0x3f);
    out += String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/**
 * Percent-decodes `text` without ever throwing: valid UTF-8 `%XX` sequences are decoded,
 * malformed ones are kept literally (`"/50%_off"` stays, `"%E0%A4%A"` stays,
 * `"%C3%A9%FF"` → `"é%FF"`). `%00` is kept encoded. Used for paths and for pageview goals'
 * match values, so both sides of a comparison are decoded the same way.
 */
export function decodePercentTolerant(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(PERCENT_RUN, decodeRun);
}

/**
 * The normalized path pageview goals match (see the module notes): `https://a.com/x?q=1` →
 * `/x`, `x` → `/x`, `/caf%C3%A9` → `/café`, `/app#/settings?tab=1` → `/app#/settings`,
 * `""` → `/`. Never throws.
 */
export function pathFromUrl(url: string): string {
  if (typeof url !== 'string') return '/';
  return normalizePath(splitRaw(url).rawPath);
}

function normalizePath(rawPath: string): string {
  return decodePercentTolerant(rawPath).replaceAll('\u0000', '%00');
}

/** A URL as ingest enrichment stores it. */
export interface SplitUrl {
  /** Lower-cased host without userinfo or port (`[::1]` for IPv6); `null` for relative URLs. */
  hostname: string | null;
  /** Exactly {@link pathFromUrl} of the same URL. */
  path: string;
  /**
   * The raw (still percent-encoded) query with its leading `?`, or `''` (also for a bare `?`). For a hash-routed URL
   * without a real query, the hash route's query (`/#/page?utm_source=x` → `?utm_source=x`).
   */
  querystring: string;
}

/**
 * Splits a URL into hostname, normalized path ({@link pathFromUrl}) and raw query string.
 * Never throws.
 */
export function splitUrl(url: string): SplitUrl {
  if (typeof url !== 'string') return { hostname: null, path: '/', querystring: '' };
  const raw = splitRaw(url);
  return { hostname: raw.hostname, path: normalizePath(raw.rawPath), querystring: raw.query };
}
