/**
 * The API room's operator commands: `keys` and `sites` (`npm run cli -- keys …`). Each group
 * lives in `<group>.command.ts` and exports `run` and `usage`.
 */
import { runCli } from '../../shared/process/cli.js';
import * as keys from './keys.command.js';
import * as sites from './sites.command.js';

await runCli({ keys, sites });
