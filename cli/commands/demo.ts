import type { Command } from 'commander';
import { createLogger, formatStatusLine } from '@optibid/runtime';
import { runDemo } from '@optibid/pipelines/demo/run-demo.js';

/** `optibid demo`: the embedded main job (`npm start`). */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the demo pipeline (pipelines/demo.yaml) in-process on the memory transport: replay real Nord Pool day-ahead prices from the repository fixtures, roll them up hourly and daily, forecast the next day, schedule a 1 MW / 2 MWh battery on each forecast (capture at real prices, bid signals for the next day), print a summary. Needs no services.',
    )
    .option(
      '--prices <file>',
      'an EPF-benchmark style CSV (timestamp,Real price,...; a "LEAR Ensemble" column is shown as the published forecast when present) to replay instead of the fixture',
    )
    .option('--verbose', 'log component events (pino JSON on stderr) and print a status line per component')
    .action(async (opts: { prices?: string; verbose?: boolean }) => {
      const logger = opts.verbose ? createLogger({ level: 'debug' }) : undefined;
      const result = await runDemo({ logger, pricesFile: opts.prices });
      console.log(result.summary);
      if (opts.verbose) {
        console.log('');
        for (const s of result.stats) console.log(formatStatusLine(s));
      }
    });
}
