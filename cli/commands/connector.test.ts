import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../program.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../connectors/${p}`, import.meta.url));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  const ewrite = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  });
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    err += a.join(' ') + '\n';
  });
  try {
    const code = await run(['node', 'optibid', 'connector', ...args]);
    return { code, out, err };
  } finally {
    write.mockRestore();
    ewrite.mockRestore();
    error.mockRestore();
  }
}

describe('optibid connector', () => {
  test('list shows every source connector with kind, status and summary', async () => {
    const { code, out } = await cli('list', '--json');
    expect(code).toBe(0);
    const rows = JSON.parse(out) as { name: string; kind: string; status: string; summary: string }[];
    for (const name of ['entsoe', 'nordpool', 'iex', 'caiso', 'http', 'replay', 'mqtt']) {
      expect(rows.find((r) => r.name === name)).toMatchObject({ kind: 'source', summary: expect.any(String) });
    }
    const table = (await cli('list')).out.split('\n');
    expect(table[0]).toMatch(/^NAME\s+KIND\s+STATUS\s+SUMMARY/);
  });

  test('describe prints the config schema with field docs', async () => {
    const { code, out } = await cli('describe', 'mqtt');
    expect(code).toBe(0);
    expect(out).toMatch(/^mqtt \(source, \w+\)/);
    expect(out).toMatch(/topics: .*\(required\) — /);
    expect((await cli('describe', 'nope')).code).toBe(1);
    // webhook's delivery options have defaults the loader fills in: shown as defaults, not as required
    const webhook = (await cli('describe', 'webhook')).out;
    expect(webhook).toMatch(/url: string \(required\)/);
    expect(webhook).toMatch(/maxAttempts: integer \(default 5\)/);
  });

  test('decode prints one JSON line per record with the Avro field names', async () => {
    const { code, out } = await cli(
      'decode',
      'entsoe',
      '--file',
      fixture('entsoe/fixtures/BE_60M.xml'),
      '--now',
      '2026-01-01T00:00:00Z',
    );
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(24);
    const avsc = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../schemas/avro/market.prices-value.avsc', import.meta.url)), 'utf8'),
    ) as { fields: { name: string }[] };
    expect(Object.keys(lines[0])).toEqual(avsc.fields.map((f) => f.name));
    expect(lines[0]).toMatchObject({ area: 'BE', price: 64.98, ingestedAt: Date.parse('2026-01-01T00:00:00Z') });
  });

  test('decode of an MQTT payload with its decoder and topic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optibid-decode-'));
    const em = JSON.parse(readFileSync(fixture('mqtt/fixtures/pro_3em.json'), 'utf8')).status['em:0'];
    writeFileSync(join(dir, 'em.json'), JSON.stringify(em));
    const { code, out } = await cli(
      'decode',
      'mqtt',
      '--file',
      join(dir, 'em.json'),
      '--config',
      '{"decoder":"shelly","topic":"shellypro3em-1/status/em:0"}',
    );
    expect(code).toBe(0);
    const first = JSON.parse(out.split('\n')[0]);
    const avsc = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../schemas/avro/telemetry.readings-value.avsc', import.meta.url)), 'utf8'),
    ) as { fields: { name: string }[] };
    expect(Object.keys(first).sort()).toEqual(avsc.fields.map((f) => f.name).sort());
  });

  test('decode through a declarative YAML feed gives the same lines as the TypeScript connector', async () => {
    const file = fixture('nordpool/fixtures/single_area_15min.yaml');
    const a = await cli(
      'decode',
      'http',
      '--file',
      file,
      '--config',
      JSON.stringify({ feed: fixture('http/feeds/nordpool-dayahead.yaml') }),
      '--now',
      '2026-01-01T00:00:00Z',
    );
    const b = await cli('decode', 'nordpool', '--file', file, '--now', '2026-01-01T00:00:00Z');
    expect(a.code).toBe(0);
    expect(a.out.trim().split('\n')).toHaveLength(96);
    expect(a.out).toBe(b.out);
  });

  test('decode of a replay file with a JSONata mapping', async () => {
    const mapping =
      '{"market": "EPEX", "area": "BE", "product": "DAY_AHEAD", "deliveryStart": $instant(timestamp, "Europe/Brussels"), "intervalMinutes": 60, "price": `Real price`, "currency": "EUR", "source": "replay"}';
    const { code, out } = await cli(
      'decode',
      'replay',
      '--file',
      fixture('replay/fixtures/epf-be-2015-01-04.csv'),
      '--config',
      JSON.stringify({ topic: 'market.prices', mapping }),
    );
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(48);
    expect(lines[0]).toMatchObject({ area: 'BE', price: 36.26, deliveryStart: Date.parse('2015-01-03T23:00:00Z') });
  });

  test('malformed input exits 1 saying what and where', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optibid-decode-'));
    const xml = readFileSync(fixture('entsoe/fixtures/BE_60M.xml'), 'utf8');
    writeFileSync(join(dir, 'cut.xml'), xml.slice(0, 2000));
    const r = await cli('decode', 'entsoe', '--file', join(dir, 'cut.xml'));
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/cut\.xml:\d+:\d+: XML ends before closing/);
    writeFileSync(
      join(dir, 'bad.json'),
      '{"multiIndexEntries": [ {"deliveryStart": "2025-05-06T22:00:00Z", "deliveryEnd": "2025-05-06T23:00:00Z", "entryPerArea": {"SE1": nan}}]}',
    );
    const j = await cli('decode', 'nordpool', '--file', join(dir, 'bad.json'));
    expect(j.code).toBe(1);
    expect(j.err).toMatch(/bad\.json:1:\d+: malformed JSON/);
  });

  test('new scaffolds a connector whose files are in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optibid-new-'));
    const { code } = await cli('new', 'energi-data', '--dir', dir);
    expect(code).toBe(0);
    for (const f of ['parse.ts', 'parse.test.ts', 'source.ts', 'README.md', 'fixtures/sample.json'])
      expect(existsSync(join(dir, 'energi-data', f))).toBe(true);
    expect(readFileSync(join(dir, 'energi-data', 'source.ts'), 'utf8')).toMatch(/name: 'energi-data'/);
    expect((await cli('new', 'Bad_Name', '--dir', dir)).code).toBe(1);
    expect((await cli('new', 'energi-data', '--dir', dir)).code).toBe(1);
  });
});
