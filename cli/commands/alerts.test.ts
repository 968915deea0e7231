import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../program.js';

const examples = (name: string) =>
  fileURLToPath(new URL(`../../processors/alerting/examples/${name}`, import.meta.url));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return optibid('alerts', ...args);
}

async function optibid(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  });
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out += a.join(' ') + '\n';
  });
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    err += a.join(' ') + '\n';
  });
  try {
    const code = await run(['node', 'optibid', ...args]);
    return { code, out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    error.mockRestore();
    log.mockRestore();
  }
}

describe('optibid alerts', () => {
  test('test replays the example records on virtual time and prints FIRING and RESOLVED events as JSON lines', async () => {
    const { code, out } = await cli(
      'test',
      examples('desk-alerts.yaml'),
      '--input',
      examples('desk-records.jsonl'),
      '--to',
      '2026-03-26T10:45:00Z',
    );
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.eventTime} ${l.state} ${l.rule} ${l.resource}`)).toEqual([
      '2026-03-26T09:10:00.000Z FIRING battery-limits bess-antwerp-1',
      '2026-03-26T09:15:00.000Z FIRING device-offline bess-antwerp-1',
      '2026-03-26T09:30:00.000Z RESOLVED device-offline bess-antwerp-1',
      '2026-03-26T09:30:00.000Z RESOLVED battery-limits bess-antwerp-1',
      '2026-03-26T09:36:00.000Z FIRING device-offline bess-antwerp-1',
      '2026-03-26T10:00:00.000Z FIRING no-bids-before-gate EPEX/BE',
      '2026-03-26T10:00:00.000Z FIRING no-bids-before-gate NORDPOOL/NO1',
      '2026-03-26T10:30:00.000Z RESOLVED no-bids-before-gate EPEX/BE',
      '2026-03-26T10:36:00.000Z FIRING device-offline bess-antwerp-1',
    ]);
    expect(lines[8].repeat).toBe(1);
    expect(lines[1].receivers).toEqual(['ops-slack', 'field-mqtt']);
    expect(lines[1].alertId).toBe(lines[2].alertId);
  });

  test('--from skips earlier records and starts virtual time there', async () => {
    const { code, out } = await cli(
      'test',
      examples('desk-alerts.yaml'),
      '--input',
      examples('desk-records.jsonl'),
      '--from',
      '2026-03-26T09:20:00Z',
      '--to',
      '2026-03-26T09:40:00Z',
    );
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.eventTime} ${l.state} ${l.rule}`)).toEqual([
      '2026-03-26T09:36:00.000Z FIRING device-offline',
    ]);
  });

  test('an invalid rules file exits 1 with FILE:LINE:COL message and prints no events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-cli-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      'rules:\n  - name: offline\n    kind: absence\n    topic: telemetry.readings\n    after: 5m\n    severty: critical\n',
    );
    const { code, out, err } = await cli('test', rules, '--input', examples('desk-records.jsonl'));
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`${rules}:6:5 unknown key "severty"\n`);
    const validate = await cli('validate', rules);
    expect(validate.code).toBe(1);
    expect((await cli('validate', examples('desk-alerts.yaml'))).out).toMatch(
      /9 rules, 4 receivers, 1 silences, 1 maintenance windows: OK/,
    );
  });

  test('unusable record lines are reported with file and line, the rest still replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-cli-'));
    const input = join(dir, 'records.jsonl');
    writeFileSync(
      input,
      [
        '{"topic":"telemetry.readings","timestamp":"2026-03-26T09:00:00Z","value":{"assetId":"bess-antwerp-1","metric":"state_of_charge","value":2}}',
        'not json',
        '{"topic":"telemetry.readings","value":{}}',
      ].join('\n'),
    );
    const { code, out, err } = await cli('test', examples('desk-alerts.yaml'), '--input', input);
    expect(code).toBe(0);
    expect(err).toMatch(new RegExp(`${input}:2 skipped record: not JSON`));
    expect(err).toMatch(new RegExp(`${input}:3 skipped record: "timestamp" must be`));
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).rule),
    ).toEqual(['battery-limits']);
  });

  test('a bad --from is a usage error', async () => {
    const { code, err } = await cli(
      'test',
      examples('desk-alerts.yaml'),
      '--input',
      examples('desk-records.jsonl'),
      '--from',
      'yesterday',
    );
    expect(code).toBe(1);
    expect(err).toMatch(/--from "yesterday" is not an ISO 8601 instant/);
  });

  test('the example alerting pipeline passes its own tests block on the memory transport', async () => {
    const { code, out } = await optibid('pipeline', 'test', examples('device-alerts-pipeline.yaml'));
    expect(out).toMatch(/1 passed, 0 failed/);
    expect(code).toBe(0);
  });
});
