/**
 * `node dist/scripts/service-args.js <service>`: prints, one per line, the `node` arguments
 * that run the service from the build (its Node flags and entry, from services.ts). The
 * container's entry point (deploy/container/entrypoint.sh) execs node with them, so the image
 * runs each service exactly as npm start, the tests and the benchmarks do.
 */
import { existsSync } from 'node:fs';
import { REPO_ROOT, serviceArgs, SERVICES, type Service } from './services.js';

const service = process.argv[2] ?? '';
if (!(SERVICES as readonly string[]).includes(service)) {
  process.stderr.write(`usage: service-args.js ${SERVICES.join('|')} (got '${service}')\n`);
  process.exit(64);
}
const args = serviceArgs(REPO_ROOT, service as Service);
const entry = args[args.length - 1] ?? '';
if (!existsSync(entry)) {
  process.stderr.write(`${entry} is missing: build first (npm run build)\n`);
  process.exit(1);
}
process.stdout.write(`${args.join('\n')}\n`);
