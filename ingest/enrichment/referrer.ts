/**
 * Referrer domain and acquisition channel. One place for both payload formats; the rules are
 * ordered from strongest signal to weakest: click ids, then UTM medium/source, then the
 * referrer's domain, then "direct".
 */

export type Channel =
  | 'direct'
  | 'organic_search'
  | 'paid_search'
  | 'organic_social'
  | 'paid_social'
  | 'email'
  | 'display'
  | 'affiliate'
  | 'referral';

/** Search engines by registrable-domain label (`google` matches google.com, google.co.uk …). */
const SEARCH = new Set([
  'google',
  'bing',
  'yahoo',
  'duckduckgo',
  'baidu',
  'yandex',
  'ecosia',
  'qwant',
  'startpage',
  'naver',
  'seznam',
  'brave',
  'kagi',
  'sogou',
  'ask',
  'aol',
  'so',
  'perplexity',
]);
/** Social networks (domains as they appear in referrers, without `www.`). */
const SOCIAL = new Set([
  'facebook.com',
  'm.facebook.com',
  'l.facebook.com',
  'lm.facebook.com',
  'fb.com',
  'instagram.com',
  'l.instagram.com',
  't.co',
  'twitter.com',
  'x.com',
  'linkedin.com',
  'lnkd.in',
  'reddit.com',
  'old.reddit.com',
  'out.reddit.com',
  'pinterest.com',
  'youtube.com',
  'm.youtube.com',
  'tiktok.com',
  'threads.net',
  'bsky.app',
  'mastodon.social',
  'news.ycombinator.com',
  'vk.com',
  'weibo.com',
  'quora.com',
  'snapchat.com',
  'discord.com',
  'telegram.org',
  't.me',
  'whatsapp.com',
  'wa.me',
]);
const SOCIAL_SOURCES = new Set([
  'facebook',
  'fb',
  'instagram',
  'ig',
  'twitter',
  'x',
  'linkedin',
  'reddit',
  'pinterest',
  'youtube',
  'tiktok',
  'threads',
  'bluesky',
  'mastodon',
  'snapchat',
  'meta',
]);
const WEBMAIL = new Set([
  'mail.google.com',
  'outlook.live.com',
  'outlook.office.com',
  'outlook.office365.com',
  'mail.yahoo.com',
  'mail.proton.me',
  'app.fastmail.com',
  'mail.aol.com',
]);
const PAID_SEARCH_CLICK_IDS = ['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid', 'yclid'];
const PAID_SOCIAL_CLICK_IDS = ['ttclid', 'li_fat_id', 'twclid', 'rdt_cid', 'epik', 'sccid'];

/** `https://www.Example.com:8080/x` → `example.com`; not a URL with a host → null. */
export function referrerDomain(referrer: string | null | undefined): string | null {
  if (!referrer) return null;
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]+)/.exec(
    referrer.trim(),
  );
  if (!m) return null;
  let host = m[1]!.toLowerCase();
  if (host.startsWith('www.')) host = host.slice(4);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? null : host.slice(0, 253);
}

/** True when `domain` is `site` or a subdomain of it (www. ignored on both sides). */
export function isSameSite(domain: string, site: string | null): boolean {
  if (!site) return false;
  const s = site.toLowerCase().replace(/^www\./, '');
  return domain === s || domain.endsWith(`.${s}`);
}

function isSearch(domain: string): boolean {
  const labels = domain.split('.');
  // google.com, google.co.uk, search.yahoo.com, duckduckgo.com …
  return labels.some((l, i) => i < labels.length - 1 && SEARCH.has(l)) && !WEBMAIL.has(domain);
}

function isSocial(domain: string): boolean {
  if (SOCIAL.has(domain)) return true;
  const parts = domain.split('.');
  return parts.length > 2 && SOCIAL.has(parts.slice(-2).join('.'));
}

export interface ChannelInput {
  referrerDomain: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  /** The page's query parameters (for click ids). */
  query: URLSearchParams | null;
}

/** The acquisition channel of one event. */
export function channelOf(i: ChannelInput): Channel {
  const medium = i.utmMedium?.toLowerCase().trim() ?? '';
  const source = i.utmSource?.toLowerCase().trim() ?? '';
  const socialSource =
    SOCIAL_SOURCES.has(source) || (i.referrerDomain !== null && isSocial(i.referrerDomain));
  const paidMedium =
    /^(cpc|ppc|paid|paidsearch|paid[-_ ]?search|paid[-_ ]?social|cpv|cpa|cpm|sem)$/.test(medium);

  const q = i.query;
  if (q) {
    if (PAID_SEARCH_CLICK_IDS.some((k) => q.has(k))) return 'paid_search';
    if (PAID_SOCIAL_CLICK_IDS.some((k) => q.has(k))) return 'paid_social';
    // fbclid is appended to every outbound Facebook/Instagram link, paid or not.
    if (q.has('fbclid')) return paidMedium ? 'paid_social' : 'organic_social';
  }
  if (medium !== '' || source !== '') {
    if (paidMedium || /paid/.test(medium))
      return socialSource || /social/.test(medium) ? 'paid_social' : 'paid_search';
    if (/^(e-?mail|newsletter)$/.test(medium) || source === 'newsletter') return 'email';
    if (/^(social|social[-_ ]network|social[-_ ]media|sm)$/.test(medium) || socialSource)
      return 'organic_social';
    if (/^(display|banner|interstitial|expandable)$/.test(medium)) return 'display';
    if (medium === 'affiliate') return 'affiliate';
    if (medium === 'organic') return 'organic_search';
    if (medium === 'referral') return 'referral';
    if (SEARCH.has(source.replace(/\.[a-z.]+$/, ''))) return 'organic_search';
  }
  const d = i.referrerDomain;
  if (d === null) return medium !== '' || source !== '' ? 'referral' : 'direct';
  if (WEBMAIL.has(d)) return 'email';
  if (isSocial(d)) return 'organic_social';
  if (isSearch(d)) return 'organic_search';
  return 'referral';
}
