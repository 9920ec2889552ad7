import { parseArgs } from 'node:util';
import { websiteRepository, type BotPolicy } from '../../shared/db/website.repository.js';
import { newWebsiteId } from '../../shared/ids.js';
import { isValidTimeZone } from '../stats/date-range.js';
import { table, withCliDb } from './cli-db.js';

export const usage = `  sites create --name NAME --domain HOST [--timezone TZ] [--bot-policy off|balanced|strict]
               [--origins https://a.example,https://b.example]
                                 create a website
  sites list                     list websites`;

/** `sites create|list`: website administration. Returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === 'create') return create(rest);
  if (cmd === 'list') return list();
  process.stderr.write(`usage:\n${usage}\n`);
  return 64;
}

async function create(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      domain: { type: 'string' },
      timezone: { type: 'string', default: 'UTC' },
      'bot-policy': { type: 'string', default: 'balanced' },
      origins: { type: 'string' },
    },
    strict: true,
  });
  const name = values.name?.trim();
  const domain = values.domain?.trim().toLowerCase();
  const problems: string[] = [];
  if (!name) problems.push('--name is required');
  if (!domain) problems.push('--domain is required');
  if (!isValidTimeZone(values.timezone))
    problems.push(`--timezone ${values.timezone} is not an IANA time zone`);
  const botPolicy = values['bot-policy'];
  if (!['off', 'balanced', 'strict'].includes(botPolicy)) {
    problems.push('--bot-policy must be off, balanced or strict');
  }
  const origins =
    values.origins
      ?.split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '') ?? [];
  for (const o of origins) {
    try {
      if (new URL(o).origin !== o.replace(/\/$/, ''))
        problems.push(`--origins: ${o} is not an origin`);
    } catch {
      problems.push(`--origins: ${o} is not an origin`);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`sites create: ${problems.join('; ')}\n`);
    return 64;
  }
  return withCliDb(async (db) => {
    const site = await websiteRepository.create(db, {
      id: newWebsiteId(),
      name: name!,
      domain: domain!,
      allowed_origins: origins,
      timezone: values.timezone,
      bot_policy: botPolicy as BotPolicy,
    });
    process.stdout.write(`created website ${site.id} (numeric id ${site.numeric_id})\n`);
    return 0;
  });
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
