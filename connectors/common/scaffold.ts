import { OptiBidError } from '@optibid/runtime';

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The files of a new polled-HTTP source connector named `name`: a pure parser with a test on a
 * recorded payload, a source definition on the shared polling machinery, and a README.
 */
export function scaffoldConnector(name: string): Record<string, string> {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `connector name "${name}" must be lower-case kebab-case (e.g. energi-data)`,
    );
  const id = camel(name);
  const Id = id[0].toUpperCase() + id.slice(1);
  return {
    'parse.ts': `import { OptiBidError } from '@optibid/runtime';
import { parseJsonSafe, finiteNumber, type Payload } from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { parseInstant } from '../common/time.js';
import { price, type NormalizedRecord, type ParseOptions } from '../common/records.js';

/**
 * Parses one ${name} response into market.prices records.
 * TODO: adapt to the real response shape; keep it pure (no I/O) and test it on recorded payloads.
 */
export function parse${Id}(p: Payload, opts: ParseOptions): { records: NormalizedRecord[] } {
  refuseErrorStatus(p);
  const doc = parseJsonSafe(p) as { rows?: { start: string; area: string; price: unknown }[] };
  if (!Array.isArray(doc.rows)) throw new OptiBidError('OPTIBID_ERR_DECODE', \`\${p.where}: no rows array\`);
  const records = doc.rows.map((r, i) =>
    price({
      market: '${name.toUpperCase()}',
      area: r.area,
      product: 'DAY_AHEAD',
      deliveryStart: parseInstant(r.start, \`\${p.where} rows[\${i}].start\`),
      intervalMinutes: 60,
      price: finiteNumber(r.price, \`\${p.where} rows[\${i}].price\`),
      currency: 'EUR',
      energyUnit: 'MWH',
      volumeMwh: null,
      publishedAt: null,
      ingestedAt: opts.now,
      source: '${name}',
    }),
  );
  return { records };
}
`,
    'parse.test.ts': `import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse${Id} } from './parse.js';

const body = readFileSync(join(import.meta.dirname, 'fixtures/sample.json'), 'utf8');

describe('${name} parser', () => {
  test('reads the recorded sample', () => {
    const { records } = parse${Id}({ body, where: 'sample.json' }, { now: 0 });
    expect(records).toHaveLength(JSON.parse(body).rows.length);
    expect(records[0].value).toMatchObject({ market: '${name.toUpperCase()}', intervalMinutes: 60 });
  });

  test('malformed input names what and where', () => {
    expect(() => parse${Id}({ body: '{"rows":[{"start":"x","area":"A","price":1}]}', where: 'bad.json' }, { now: 0 })).toThrow(/bad\\.json rows\\[0\\]\\.start/);
  });
});
`,
    'source.ts': `import { Type, type Static } from '@sinclair/typebox';
import { defineSource } from '@optibid/runtime';
import { pollingConfig, PollingSource, type PollingFeed } from '../common/poller.js';
import { parse${Id} } from './parse.js';

export const ${id}Config = Type.Object(
  {
    url: Type.String({ description: 'Endpoint with a {date} (YYYY-MM-DD) placeholder.' }),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type ${Id}Config = Static<typeof ${id}Config>;

export function ${id}Feed(cfg: ${Id}Config): PollingFeed {
  return {
    name: '${name}',
    timeZone: 'UTC',
    windows: (date) => [{ id: date, date, request: { url: cfg.url.replaceAll('{date}', date), label: \`${name} \${date}\` } }],
    parse: (p, now) => ({ status: 'ok', warnings: [], ...parse${Id}(p, { now }) }),
  };
}

export const ${id}Source = defineSource({
  name: '${name}',
  status: 'experimental',
  summary: 'TODO: one line saying what ${name} provides.',
  outputs: ['market.prices'],
  config: ${id}Config,
  create: (cfg, ctx) => new PollingSource(${id}Feed(cfg), cfg, ctx),
});
`,
    'fixtures/sample.json': `{"rows":[{"start":"2025-01-01T00:00:00Z","area":"X1","price":42.5},{"start":"2025-01-01T01:00:00Z","area":"X1","price":40.1}]}\n`,
    'fixtures/README.md': `# ${name} fixtures\n\nTODO: replace sample.json with a real recorded response and name its source (repository @ commit, licence, or the URL and date it was recorded).\n`,
    'README.md': `# ${name} connector\n\nTODO: what it reads, its config (\`optibid connector describe ${name}\`), and how to try it:\n\n\`\`\`\noptibid connector decode ${name} --file connectors/${name}/fixtures/sample.json\n\`\`\`\n`,
  };
}
