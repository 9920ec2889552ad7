import { isbot } from 'isbot';
import type { BotPolicy } from '../../shared/db/repositories/website.repository.js';

export interface BotSignals {
  userAgent: string | undefined;
  acceptLanguage: string | undefined;
  /** Events from this client IP in the current rate window, or null when the heuristic is off. */
  recentEventsFromIp: number | null;
  /** Events per window above which the rate signal fires. */
  rateThreshold: number;
}

/** Score at or above which `balanced` flags an event (strong signals only). */
export const BALANCED_THRESHOLD = 80;
/** Score at or above which `strict` flags an event (weaker signals count too). */
export const STRICT_THRESHOLD = 40;

const HEADLESS = /headless|phantomjs|slimerjs|puppeteer|playwright|selenium|webdriver|electron\//i;

/**
 * 0–100: how sure we are that a bot sent the event. Strong signals (a known bot UA per
 * `isbot`, no UA at all) score ≥ 80; weak ones (headless browser markers, no Accept-Language,
 * a high event rate from one IP) add up to less on their own, so only `strict` flags them.
 */
export function botScore(s: BotSignals): number {
  const ua = s.userAgent?.trim() ?? '';
  if (ua === '') return 90;
  // Headless browsers are a weak signal by the spec (real people's tools and tests use them),
  // although isbot lists them too; so they are judged before isbot.
  let score = uaScore(ua);
  if (!s.acceptLanguage) score += 30;
  if (s.recentEventsFromIp !== null && s.recentEventsFromIp > s.rateThreshold) score += 40;
  return Math.min(100, score);
}

/** Judges a score against a website's bot policy (`off` never flags). */
export function isBotFor(policy: BotPolicy, score: number): boolean {
  if (policy === 'off') return false;
  return score >= (policy === 'strict' ? STRICT_THRESHOLD : BALANCED_THRESHOLD);
}

const uaScores = new Map<string, number>();

/** The UA part of the score, memoized (isbot's pattern is large; UAs repeat heavily). */
function uaScore(ua: string): number {
  let score = uaScores.get(ua);
  if (score === undefined) {
    score = HEADLESS.test(ua) ? 50 : isbot(ua) ? 95 : 0;
    if (uaScores.size >= 5_000) uaScores.clear();
    uaScores.set(ua, score);
  }
  return score;
}
