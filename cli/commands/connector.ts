import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OptiBidError, type ComponentDefinition } from '@optibid/runtime';
import { builtinRegistry } from '@optibid/pipelines';
import { connectorDecoders } from '@optibid/connectors/catalog.js';
import { readPayloadFile } from '@optibid/connectors/common/recorded.js';
import { toJsonLine } from '@optibid/connectors/common/records.js';
import { describeSchema } from '@optibid/connectors/common/schema-doc.js';
import { scaffoldConnector } from '@optibid/connectors/common/scaffold.js';

function connectors(): ComponentDefinition[] {
  return builtinRegistry()
    .list()
    .filter((d) => d.kind === 'source' || d.kind === 'sink');
}

function find(name: string): ComponentDefinition {
  const def = connectors().find((d) => d.name === name);
  if (!def)
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `unknown connector "${name}"; known: ${connectors()
        .map((d) => d.name)
        .join(', ')}`,
    );
  return def;
}

function parseConfig(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', `--config is not a JSON object: ${(err as Error).message}`);
  }
}

/** `optibid connector list|describe|decode|new`: the connectors' catalogue, docs, parsers and scaffolding. */
export function registerConnector(program: Command): void {
  const cmd = program
    .command('connector')
    .description(
      'Source and sink connectors: list them, show their config, run a parser on a recorded payload, scaffold a new one',
    );

  cmd
    .command('list')
    .description('List every connector with its kind (source/sink), status and summary')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { json?: boolean }) => {
      const rows = connectors().map((d) => ({ name: d.name, kind: d.kind, status: d.status, summary: d.summary }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const w = (k: 'name' | 'kind' | 'status'): number => Math.max(k.length, ...rows.map((r) => r[k].length));
      const line = (r: { name: string; kind: string; status: string; summary: string }): string =>
        `${r.name.padEnd(w('name'))}  ${r.kind.padEnd(w('kind'))}  ${r.status.padEnd(w('status'))}  ${r.summary}`;
      process.stdout.write(
        `${[line({ name: 'NAME', kind: 'KIND', status: 'STATUS', summary: 'SUMMARY' }), ...rows.map(line)].join('\n')}\n`,
      );
    });

  cmd
    .command('describe')
    .description(
      'Show a connector’s summary, outputs and config schema with every field’s type, default and documentation',
    )
    .argument('<name>', 'connector name, e.g. entsoe, mqtt, http')
    .option('--json', 'print the JSON Schema of the config instead')
    .action((name: string, opts: { json?: boolean }) => {
      const def = find(name);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(def.config, null, 2)}\n`);
        return;
      }
      const out = [`${def.name} (${def.kind}, ${def.status})`, def.summary];
      if (def.kind === 'source') out.push(`outputs: ${def.outputs.join(', ')}`);
      out.push('', 'config:', ...describeSchema(def.config).map((l: string) => `  ${l}`));
      process.stdout.write(`${out.join('\n')}\n`);
    });

  cmd
    .command('decode')
    .description(
      'Run only a connector’s parser on a recorded response or payload and print the normalized records as JSON lines (Avro field names); malformed input exits 1 saying what and where',
    )
    .argument('<name>', 'connector name: entsoe, nordpool, iex, caiso, http, replay, mqtt')
    .requiredOption(
      '-f, --file <file>',
      'recorded response body, payload file, or HTTP cassette (.yml: its first response is used)',
    )
    .option(
      '-c, --config <json>',
      'connector config as JSON, e.g. \'{"decoder":"shelly","topic":"dev/status/em:0"}\' for mqtt',
    )
    .option('--now <iso>', 'processing time stamped on records (ingestedAt/receivedAt); default: now')
    .action(async (name: string, opts: { file: string; config?: string; now?: string }) => {
      const fn = connectorDecoders[name];
      if (!fn)
        throw new OptiBidError(
          'OPTIBID_ERR_USAGE',
          `connector "${name}" has no decoder; decodable: ${Object.keys(connectorDecoders).sort().join(', ')}`,
        );
      if (!existsSync(opts.file)) throw new OptiBidError('OPTIBID_ERR_USAGE', `${opts.file}: no such file`);
      const now = opts.now ? Date.parse(opts.now) : Date.now();
      if (Number.isNaN(now)) throw new OptiBidError('OPTIBID_ERR_USAGE', `--now "${opts.now}" is not a date`);
      const { records, notes } = await fn(readPayloadFile(opts.file), parseConfig(opts.config), now);
      for (const n of notes) process.stderr.write(`${name}: ${n}\n`);
      process.stdout.write(records.map((r) => `${toJsonLine(r)}\n`).join(''));
    });

  cmd
    .command('new')
    .description(
      'Scaffold a TypeScript polled-HTTP source connector (parser, source definition, test, README) under connectors/<name>/',
    )
    .argument('<name>', 'connector name, lower-case kebab-case, e.g. energi-data')
    .option('--dir <dir>', 'connectors folder to create it in', 'connectors')
    .action((name: string, opts: { dir: string }) => {
      const files = scaffoldConnector(name);
      const target = resolve(opts.dir, name);
      if (existsSync(target)) throw new OptiBidError('OPTIBID_ERR_USAGE', `${target} already exists`);
      for (const [file, text] of Object.entries(files)) {
        mkdirSync(join(target, file, '..'), { recursive: true });
        writeFileSync(join(target, file), text as string);
      }
      process.stdout.write(
        `created ${Object.keys(files)
          .map((f) => join(opts.dir, name, f))
          .join(
            ', ',
          )}\nnext: add the definition to pipelines/builtins.ts and its parser to connectors/catalog.ts, then run its test\n`,
      );
    });
}
