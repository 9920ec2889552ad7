import { validationError } from '../../shared/errors/errors.js';
import { BOT_POLICIES, type NewWebsite } from '../../shared/db/repositories/website.repository.js';
import { codePoints, NAME_MAX } from '../goals/goal-input.js';
import { isValidTimeZone } from '../stats/date-range.js';
import type { WebsiteInput } from './website.schemas.js';

/**
 * The website input rules, once, for every entry point that creates or changes a website (the
 * websites API and `npm run cli -- sites create`). Errors are validation errors naming the field.
 */

const HOST_RE =
  /^(?=.{1,253}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;
const MAX_ORIGINS = 50;

/** Validates and normalizes the fields present (create requires name and domain via schema). */
export function normalizeWebsiteInput(input: WebsiteInput): WebsiteInput {
  const out: WebsiteInput = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name === '') throw validationError('name must not be empty', 'name');
    if (codePoints(name) > NAME_MAX) {
      throw validationError(`name must be at most ${NAME_MAX} characters`, 'name');
    }
    out.name = name;
  }
  if (input.domain !== undefined) {
    const domain = input.domain.trim().toLowerCase().replace(/\.$/, '');
    if (!HOST_RE.test(domain)) {
      throw validationError('domain must be a host name such as shop.example.com', 'domain');
    }
    out.domain = domain;
  }
  if (input.allowed_origins !== undefined) {
    if (input.allowed_origins.length > MAX_ORIGINS) {
      throw validationError(`at most ${MAX_ORIGINS} allowed_origins`, 'allowed_origins');
    }
    out.allowed_origins = input.allowed_origins.map((o, i) => {
      let url: URL | null = null;
      try {
        url = new URL(o);
      } catch {
        url = null;
      }
      if (
        !url ||
        !/^https?:$/.test(url.protocol) ||
        url.origin !== o.replace(/\/$/, '').toLowerCase()
      ) {
        throw validationError(
          'must be an origin such as https://shop.example.com (scheme, host, optional port)',
          `allowed_origins[${i}]`,
        );
      }
      return url.origin;
    });
  }
  if (input.timezone !== undefined) {
    if (!isValidTimeZone(input.timezone)) {
      throw validationError('timezone must be an IANA time zone such as Europe/Berlin', 'timezone');
    }
    out.timezone = input.timezone;
  }
  if (input.bot_policy !== undefined) {
    if (!(BOT_POLICIES as readonly string[]).includes(input.bot_policy)) {
      throw validationError(`bot_policy must be one of ${BOT_POLICIES.join(', ')}`, 'bot_policy');
    }
    out.bot_policy = input.bot_policy;
  }
  if (input.tracking !== undefined) {
    const t = { ...input.tracking };
    if (t.fileExtensions !== undefined) {
      if (t.fileExtensions.length > 100) {
        throw validationError('at most 100 fileExtensions', 'tracking.fileExtensions');
      }
      t.fileExtensions = t.fileExtensions.map((e, i) => {
        const ext = e.trim().toLowerCase().replace(/^\./, '');
        if (!/^[a-z0-9]{1,16}$/.test(ext)) {
          throw validationError(
            'a file extension is 1–16 characters a–z or 0–9 (without the dot)',
            `tracking.fileExtensions[${i}]`,
          );
        }
        return ext;
      });
    }
    out.tracking = t;
  }
  return out;
}

/** A complete new website from `input`: name and domain required, the rest defaulted. */
export function resolveNewWebsite(input: WebsiteInput): Omit<NewWebsite, 'id'> {
  if (input.name === undefined) throw validationError('name is required', 'name');
  if (input.domain === undefined) throw validationError('domain is required', 'domain');
  const w = normalizeWebsiteInput(input);
  return {
    name: w.name!,
    domain: w.domain!,
    allowed_origins: w.allowed_origins ?? [],
    timezone: w.timezone ?? 'UTC',
    bot_policy: w.bot_policy ?? 'balanced',
    tracking: w.tracking ?? {},
  };
}
