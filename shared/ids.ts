import { randomBytes, randomUUID } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `n` characters of [0-9a-z] from a CSPRNG, without modulo bias. */
export function randomId(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      // 252 = 7 * 36: bytes above it would bias the first characters.
      if (b < 252) out += ALPHABET[b % 36];
      if (out.length === n) break;
    }
  }
  return out;
}

export const newWebsiteId = () => `site_${randomId(10)}`;
export const newGoalId = () => `goal_${randomId(21)}`;
export const newEventId = () => randomUUID();

export const WEBSITE_ID_RE = /^site_[0-9a-z]{10}$/;
export const GOAL_ID_RE = /^goal_[0-9a-z]{21}$/;
