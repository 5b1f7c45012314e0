// Run as a separate process by cross-process.test.ts: `assent token` as its own command would,
// with the arguments given and the real environment and standard output.
import { runToken } from '../../../cli/token.ts';

process.exitCode = await runToken(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`));
