import type { Website } from '../../shared/db/repositories/website.repository.js';

const allowedHosts = new WeakMap<Website, Set<string>>();

/** `https://App.Example.com:8443` or `app.example.com` → `app.example.com`; else null. */
export function hostOfOrigin(origin: string): string | null {
  const m = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?(\[[^\]]+\]|[^:/?#\s]+)/.exec(origin.trim());
  return m ? m[1]!.toLowerCase().replace(/\.$/, '') : null;
}

/**
 * The Origin check of the collect routes: no Origin header (a server-side sender) is allowed;
 * otherwise the origin's host must be the website's domain, a subdomain of it, or one of its
 * `allowed_origins` (compared by host, any port). `Origin: null` has no host and is refused.
 */
export function originAllowed(origin: string | undefined, site: Website): boolean {
  if (origin === undefined) return true;
  const host = origin === 'null' ? null : hostOfOrigin(origin);
  if (!host) return false;
  const domain = hostOfOrigin(site.domain) ?? site.domain.toLowerCase();
  if (host === domain || host.endsWith(`.${domain}`)) return true;
  let set = allowedHosts.get(site);
  if (!set) {
    set = new Set(site.allowed_origins.map(hostOfOrigin).filter((h): h is string => h !== null));
    allowedHosts.set(site, set);
  }
  return set.has(host);
}
