import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaffoldConnector } from './scaffold.js';

test('a scaffolded connector parses its sample and names where bad input is', async () => {
  const name = `zz-scaffold-${process.pid}`;
  const dir = join(import.meta.dirname, '..', name);
  try {
    for (const [file, text] of Object.entries(scaffoldConnector(name))) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    const mod = (await import(join(dir, 'parse.ts'))) as Record<
      string,
      (p: unknown, o: unknown) => { records: { value: { price: number; market: string } }[] }
    >;
    const parse = mod[Object.keys(mod).find((k) => k.startsWith('parse'))!];
    const sample = (await import('node:fs')).readFileSync(join(dir, 'fixtures/sample.json'), 'utf8');
    const { records } = parse({ body: sample, where: 'sample.json' }, { now: 0 });
    expect(records.map((r) => r.value.price)).toEqual([42.5, 40.1]);
    expect(records[0].value.market).toBe(name.toUpperCase());
    expect(() =>
      parse({ body: '{"rows":[{"start":"x","area":"A","price":1}]}', where: 'bad.json' }, { now: 0 }),
    ).toThrow(/bad\.json rows\[0\]\.start/);
    const src = (await import(join(dir, 'source.ts'))) as Record<string, { name?: string; kind?: string }>;
    expect(Object.values(src).find((v) => v?.kind === 'source')?.name).toBe(name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names must be kebab-case', () => {
  expect(() => scaffoldConnector('Bad Name')).toThrow(/kebab-case/);
});
