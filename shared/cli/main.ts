/**
 * `npm run cli -- <group> <command> [options]`: operator commands. Each group lives in
 * `commands/<group>.command.ts` and exports `run(args: string[]): Promise<number>` (the exit
 * code) and `usage` (its help text).
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface CommandModule {
  run(args: string[]): Promise<number>;
  usage: string;
}

const dir = fileURLToPath(new URL('./commands/', import.meta.url));
const groups = (await readdir(dir))
  .filter((f) => f.endsWith('.command.ts'))
  .map((f) => f.slice(0, -'.command.ts'.length))
  .sort();

const [group, ...rest] = process.argv.slice(2);
if (!group || group === 'help' || group === '--help' || !groups.includes(group)) {
  const lines = await Promise.all(
    groups.map(async (g) => ((await import(`./commands/${g}.command.ts`)) as CommandModule).usage),
  );
  process.stdout.write(`usage: npm run cli -- <command>\n\n${lines.join('\n')}\n`);
  process.exit(group && group !== 'help' && group !== '--help' ? 64 : 0);
}
const mod = (await import(`./commands/${group}.command.ts`)) as CommandModule;
process.exitCode = await mod.run(rest);
