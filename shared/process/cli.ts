/** One command group of an operator CLI: `run` returns the exit code, `usage` its help text. */
export interface CliCommand {
  run(args: string[]): Promise<number>;
  usage: string;
}

/**
 * Runs `<group> <command> [options]` from argv against the given groups and sets the exit code:
 * 64 (EX_USAGE) with the usage of every group for an unknown group, 0 for `help`. Each
 * service's CLI entry (`api/cli/main.ts`, `processor/cli/main.ts`) calls this with its own
 * groups; `npm run cli` (scripts/cli.sh) picks the entry by group.
 */
export async function runCli(
  groups: Readonly<Record<string, CliCommand>>,
  argv = process.argv.slice(2),
): Promise<void> {
  const [group, ...rest] = argv;
  const command = group === undefined ? undefined : groups[group];
  if (command === undefined || !Object.hasOwn(groups, group!)) {
    const help = group === undefined || group === 'help' || group === '--help';
    const usage = Object.values(groups)
      .map((g) => g.usage)
      .join('\n');
    (help ? process.stdout : process.stderr).write(`usage: npm run cli -- <command>\n\n${usage}\n`);
    process.exitCode = help ? 0 : 64;
    return;
  }
  process.exitCode = await command.run(rest);
}
