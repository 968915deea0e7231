import { Command, CommanderError } from 'commander';
import { OptiBidError } from '@optibid/runtime';
import { commands } from './commands/index.js';

/** Builds the `optibid` command tree. Each command lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('optibid')
    .description('OptiBid: exchange feeds and telemetry in, forecasts, bid signals and alerts out.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI with `argv` (as in process.argv) and resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    if (err instanceof OptiBidError) {
      console.error(`optibid: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
