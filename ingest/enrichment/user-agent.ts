import UAParser from 'ua-parser-js';

export type DeviceType = 'desktop' | 'mobile' | 'tablet';

export interface UserAgentInfo {
  browser: string | null;
  os: string | null;
  device: DeviceType | null;
}

const MAX_CACHE = 5_000;
// User agents repeat heavily (a few hundred strings cover most traffic), and parsing is the most
// expensive step of enrichment, so results are memoized; the cache is dropped when full.
const cache = new Map<string, Omit<UserAgentInfo, 'device'> & { uaDevice: string | undefined }>();

/**
 * Browser, OS and device type from a User-Agent (ua-parser-js 1.x, MIT; never 2.x, which is
 * AGPL). `screenWidth` is a hint for UAs that do not say (desktop-class UA on a narrow screen →
 * mobile; iPadOS presents itself as macOS, a touch-sized screen makes it a tablet).
 */
export function parseUserAgent(ua: string | undefined, screenWidth: number | null): UserAgentInfo {
  if (!ua) return { browser: null, os: null, device: deviceFromHint(undefined, screenWidth) };
  let r = cache.get(ua);
  if (!r) {
    const res = new UAParser(ua).getResult();
    r = {
      browser: res.browser.name?.slice(0, 64) ?? null,
      os: res.os.name?.slice(0, 64) ?? null,
      uaDevice: res.device.type,
    };
    if (cache.size >= MAX_CACHE) cache.clear();
    cache.set(ua, r);
  }
  return { browser: r.browser, os: r.os, device: deviceFromHint(r.uaDevice, screenWidth) };
}

function deviceFromHint(
  uaDevice: string | undefined,
  screenWidth: number | null,
): DeviceType | null {
  if (uaDevice === 'mobile' || uaDevice === 'wearable') return 'mobile';
  if (uaDevice === 'tablet') return 'tablet';
  if (uaDevice !== undefined) return 'desktop'; // smarttv, console, embedded
  if (screenWidth === null || screenWidth <= 0) return 'desktop';
  if (screenWidth < 600) return 'mobile';
  return 'desktop';
}
