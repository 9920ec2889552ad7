import { parseArgs } from 'node:util';
import { ClientError } from '../../shared/errors/errors.js';
import { KeyService } from '../keys/key.service.js';
import { table, withCliDb } from './cli-db.js';

export const usage = `  keys create --name NAME [--sites site_a,site_b] [--collect-only]
                                 create an API key (printed once; only its SHA-256 is stored)
  keys list                      list keys (never the secret)
  keys revoke ID                 revoke a key`;

/**
 * `keys create|list|revoke`: API key administration, through the same {@link KeyService} as the
 * `/api/keys` routes. Returns the exit code.
 */
export async function run(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'create':
      return create(rest);
    case 'list':
      return list();
    case 'revoke':
      return revoke(rest);
    default:
      process.stderr.write(`usage:\n${usage}\n`);
      return 64;
  }
}

async function create(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      sites: { type: 'string' },
      'collect-only': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const name = values.name?.trim();
  if (!name) {
    process.stderr.write('keys create: --name is required\n');
    return 64;
  }
  const websites = values.sites
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (websites?.length === 0) {
    process.stderr.write('keys create: --sites names no website\n');
    return 64;
  }
  return withCliDb(async (db, logger) => {
    let created: Awaited<ReturnType<KeyService['create']>>;
    try {
      created = await new KeyService({ db, logger }).create('cli', {
        name,
        kind: values['collect-only'] ? 'collect' : 'manage',
        website_ids: websites,
      });
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      process.stderr.write(`keys create: ${err.message}\n`);
      return err.field?.startsWith('website_ids') ? 65 : 64;
    }
    const { row, key } = created;
    process.stdout.write(
      `created ${row.kind} key ${row.id} (${row.website_ids?.join(',') ?? 'all websites'})\n` +
        `${key}\n` +
        'This is the only time the key is shown; store it now.\n',
    );
    return 0;
  });
}

async function list(): Promise<number> {
  return withCliDb(async (db, logger) => {
    const rows = await new KeyService({ db, logger }).list();
    process.stdout.write(
      table([
        ['ID', 'NAME', 'KIND', 'PREFIX', 'SITES', 'CREATED', 'REVOKED'],
        ...rows.map((r) => [
          r.id,
          r.name,
          r.kind,
          `${r.key_prefix}…`,
          r.website_ids?.join(',') ?? 'all',
          r.created_at.toISOString(),
          r.revoked_at?.toISOString() ?? '-',
        ]),
      ]),
    );
    return 0;
  });
}

async function revoke(args: string[]): Promise<number> {
  const id = args[0];
  if (!id || args.length !== 1) {
    process.stderr.write('keys revoke: exactly one key ID is required\n');
    return 64;
  }
  return withCliDb(async (db, logger) => {
    try {
      await new KeyService({ db, logger }).revoke('cli', id);
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      process.stderr.write(`keys revoke: no active key ${id}\n`);
      return 65;
    }
    process.stdout.write(`revoked ${id}\n`);
    return 0;
  });
}
