import { parseArgs } from 'node:util';
import {
  BOT_POLICIES,
  websiteRepository,
} from '../../shared/db/repositories/website.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import { newWebsiteId } from '../../shared/ids.js';
import { loadTimeZones } from '../stats/date-range.js';
import { resolveNewWebsite } from '../websites/website-input.js';
import { table, withCliDb } from './cli-db.js';

export const usage = `  sites create --name NAME --domain HOST [--timezone TZ] [--bot-policy ${BOT_POLICIES.join('|')}]
               [--origins https://a.example,https://b.example]
                                 create a website (the same rules as POST /api/websites)
  sites list                     list websites`;

/** `sites create|list`: website administration. Returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === 'create') return create(rest);
  if (cmd === 'list') return list();
  process.stderr.write(`usage:\n${usage}\n`);
  return 64;
}

/** The API field an option sets, for error messages in the CLI's own words. */
const OPTION_OF: Record<string, string> = {
  name: '--name',
  domain: '--domain',
  timezone: '--timezone',
  bot_policy: '--bot-policy',
  allowed_origins: '--origins',
};

async function create(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      domain: { type: 'string' },
      timezone: { type: 'string' },
      'bot-policy': { type: 'string' },
      origins: { type: 'string' },
    },
    strict: true,
  });
  return withCliDb(async (db) => {
    await loadTimeZones(db);
    const site = resolveSite(values);
    if (typeof site === 'string') {
      process.stderr.write(`sites create: ${site}\n`);
      return 64;
    }
    const created = await websiteRepository.create(db, { id: newWebsiteId(), ...site });
    process.stdout.write(`created website ${created.id} (numeric id ${created.numeric_id})\n`);
    return 0;
  });
}

/** The website the options describe, or what is wrong with them (in the CLI's words). */
function resolveSite(values: {
  name?: string;
  domain?: string;
  timezone?: string;
  'bot-policy'?: string;
  origins?: string;
}): ReturnType<typeof resolveNewWebsite> | string {
  try {
    return resolveNewWebsite({
      name: values.name,
      domain: values.domain,
      timezone: values.timezone,
      bot_policy: values['bot-policy'] as ReturnType<typeof resolveNewWebsite>['bot_policy'],
      allowed_origins: values.origins
        ?.split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    });
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    const field = err.field?.replace(/\[\d+\]$/, '') ?? '';
    return `${OPTION_OF[field] ?? field}: ${err.message}`;
  }
}

async function list(): Promise<number> {
  return withCliDb(async (db) => {
    const rows = await websiteRepository.list(db, null);
    process.stdout.write(
      table([
        ['ID', 'NUMERIC', 'NAME', 'DOMAIN', 'TIMEZONE', 'BOTS'],
        ...rows.map((w) => [
          w.id,
          String(w.numeric_id),
          w.name,
          w.domain,
          w.timezone,
          w.bot_policy,
        ]),
      ]),
    );
    return 0;
  });
}
