import { CommanderError, type Command } from 'commander';
import { OptiBidError } from '@optibid/runtime';
import { loadRulesFile, readRecordsFile, replayRecords, RulesFileError } from '@optibid/processors/alerting/index.js';

function parseInstant(text: string, option: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `${option} "${text}" is not an ISO 8601 instant (e.g. 2026-03-29T00:00:00Z)`,
    );
  return t;
}

/** Loads a rules file; when it does not validate, prints `FILE:LINE:COL message` lines on stderr and exits 1. */
function loadOrExit(file: string) {
  try {
    return loadRulesFile(file);
  } catch (err) {
    if (err instanceof RulesFileError) {
      process.stderr.write(`${err.message}\n`);
      throw new CommanderError(1, 'optibid.alerts.invalidRules', err.message);
    }
    throw err;
  }
}

/** `optibid alerts validate|test`: check alert rules and dry-run them on recorded records. */
export function registerAlerts(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('Alert rules (YAML): validate a rules file, or dry-run it on recorded records on virtual time');

  alerts
    .command('validate')
    .description('Check a rules file; prints FILE:LINE:COL message for every problem and exits 1 when there is one')
    .argument('<rules>', 'YAML rules file (rules, markets, receivers, route, silences, maintenance)')
    .action((rulesPath: string) => {
      const rules = loadOrExit(rulesPath);
      process.stdout.write(
        `${rulesPath}: ${rules.rules.length} rules, ${rules.receivers.length} receivers, ${rules.silences.length} silences, ${rules.maintenance.length} maintenance windows: OK\n`,
      );
    });

  alerts
    .command('test')
    .description(
      'Replay recorded records through the rules on virtual time (event-time order) and print every alert event ' +
        '(FIRING, repeats, RESOLVED) as a JSON line with its event time and receivers; unusable record lines are reported on stderr',
    )
    .argument('<rules>', 'YAML rules file')
    .requiredOption(
      '--input <records.jsonl>',
      'JSON lines, one record each: {"topic", "timestamp" (ms or ISO), "value", optional "key", "partition", "offset"}',
    )
    .option('--from <iso>', 'start of virtual time; earlier records are ignored')
    .option('--to <iso>', 'end of virtual time (timers up to here still fire); records at or after it are ignored')
    .action((rulesPath: string, opts: { input: string; from?: string; to?: string }) => {
      const rules = loadOrExit(rulesPath);
      const from = opts.from === undefined ? undefined : parseInstant(opts.from, '--from');
      const to = opts.to === undefined ? undefined : parseInstant(opts.to, '--to');
      const { records, rejected } = readRecordsFile(opts.input);
      for (const r of rejected) process.stderr.write(`${r.file}:${r.line} skipped record: ${r.reason}\n`);
      for (const n of replayRecords(rules, records, { from, to })) {
        const line = {
          eventTime: new Date(n.at).toISOString(),
          ...n.event,
          repeat: n.repeat,
          receivers: n.routes.flatMap((r) => r.receivers.map((x) => x.name)),
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      }
    });
}
