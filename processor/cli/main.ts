/** The processor room's operator commands: `dlq` (`npm run cli -- dlq …`). */
import { runCli } from '../../shared/process/cli.js';
import * as dlq from './dlq.command.js';

await runCli({ dlq });
