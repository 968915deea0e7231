import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkSchemas,
  formatReports,
  gitBaseline,
  readLocalSchemas,
  registerSchemas,
  registryBaseline,
  type LocalSchema,
} from './check.js';
import { MemoryStore } from './registry/store.js';
import { startRegistry } from './registry/server.js';

const price = (fields: object[]) =>
  JSON.stringify({
    type: 'record',
    name: 'MarketPrice',
    namespace: 'energy.optibid',
    doc: 'p',
    fields: [{ name: 'area', type: 'string', doc: 'a' }, ...fields],
  });
const v1 = price([{ name: 'price', type: 'double', doc: 'p' }]);
const local = (text: string): LocalSchema[] => [
  { subject: 'market.prices-value', file: 'schemas/avro/market.prices-value.avsc', text },
];

describe('optibid schemas check', () => {
  let stop: () => Promise<void>;
  let url: string;
  beforeEach(async () => {
    const r = await startRegistry(new MemoryStore(), { port: 0 });
    url = r.url;
    stop = () => r.app.close();
  });
  afterEach(() => stop());

  it('passes the committed schemas against an empty registry and against themselves once registered', async () => {
    const schemas = readLocalSchemas();
    expect(schemas.map((s) => s.subject)).toContain('market.prices-value');
    const first = await checkSchemas(registryBaseline(url), schemas);
    expect(first.every((r) => r.status === 'new')).toBe(true);
    const ids = await registerSchemas(url, schemas);
    expect(ids.size).toBe(schemas.length);
    const second = await checkSchemas(registryBaseline(url), schemas);
    expect(second.every((r) => r.status === 'unchanged')).toBe(true);
  });

  it('explains an incompatible field in words under the subject level of the registry', async () => {
    await registerSchemas(url, local(v1));
    const changed = price([
      { name: 'price', type: 'string', doc: 'p' },
      { name: 'currency', type: 'string', doc: 'c' },
    ]);
    const reports = await checkSchemas(registryBaseline(url), local(changed));
    expect(reports[0]!.status).toBe('incompatible');
    expect(reports[0]!.level).toBe('BACKWARD');
    expect(reports[0]!.messages).toEqual([
      expect.stringMatching(
        /^MarketPrice\.price: consumers on the new schema cannot read records written with version 1: .*string in the reader but double in the writer/,
      ),
      expect.stringMatching(/^MarketPrice\.currency: .*field currency exists only in the reader and has no default/),
    ]);
    const [text, ok] = formatReports(reports, registryBaseline(url));
    expect(ok).toBe(false);
    expect(text).toContain('FAIL  market.prices-value  (BACKWARD against registry version 1)');

    // Under FORWARD the same subject fails for the other reason: old consumers reading new data.
    await fetch(`${url}/config/market.prices-value`, {
      method: 'PUT',
      body: JSON.stringify({ compatibility: 'FORWARD' }),
      headers: { 'content-type': 'application/json' },
    });
    const forward = await checkSchemas(registryBaseline(url), local(price([])));
    expect(forward[0]!.messages).toEqual([
      expect.stringMatching(
        /consumers still on version 1 cannot read records written with the new schema: field price exists only in the reader/,
      ),
    ]);
  });

  it('accepts a compatible evolution and reports an invalid file', async () => {
    await registerSchemas(url, local(v1));
    const added = price([
      { name: 'price', type: 'double', doc: 'p' },
      { name: 'currency', type: 'string', default: 'EUR', doc: 'c' },
    ]);
    expect((await checkSchemas(registryBaseline(url), local(added)))[0]!.status).toBe('ok');
    const invalid = await checkSchemas(
      registryBaseline(url),
      local('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}'),
    );
    expect(invalid[0]!.status).toBe('invalid');
    expect(invalid[0]!.messages[0]).toContain('market.prices-value.avsc');
  });

  it('without a registry compares with the previous git commit', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'optibid-schemas-check-'));
    try {
      const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
      git('init', '-q');
      git('config', 'user.email', 't@example.invalid');
      git('config', 'user.name', 't');
      const dir = join(repo, 'schemas', 'avro');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'market.prices-value.avsc'), v1);
      git('add', '.');
      git('commit', '-q', '-m', 'v1');
      const breaking = price([]).replace('"area","type":"string"', '"area","type":"int"');
      writeFileSync(join(dir, 'market.prices-value.avsc'), breaking);
      // Uncommitted change: compared with HEAD.
      const reports = await checkSchemas(gitBaseline({ dir }), readLocalSchemas(dir));
      expect(reports[0]).toMatchObject({ status: 'incompatible', against: 'git HEAD' });
      expect(reports[0]!.messages[0]).toMatch(
        /^MarketPrice\.area: consumers on the new schema cannot read records written with the schema at HEAD: .*int in the reader but string in the writer/,
      );
      // Committed: compared with HEAD~1.
      git('commit', '-q', '-am', 'breaking');
      expect((await checkSchemas(gitBaseline({ dir }), readLocalSchemas(dir)))[0]).toMatchObject({
        status: 'incompatible',
        against: 'git HEAD~1',
      });
      expect((await checkSchemas(gitBaseline({ dir, level: 'NONE' }), readLocalSchemas(dir)))[0]!.status).toBe('ok');
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('schemas check against git: a baseline it cannot see is never a silent pass', () => {
  let repo: string;
  let dir: string;
  let git: (...args: string[]) => string;
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'optibid-schemas-git-'));
    git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    git('init', '-q');
    git('config', 'user.email', 't@example.invalid');
    git('config', 'user.name', 't');
    dir = join(repo, 'schemas', 'avro');
    mkdirSync(dir, { recursive: true });
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('on the first commit every schema is new, and says why', async () => {
    writeFileSync(join(dir, 'market.prices-value.avsc'), v1);
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    const baseline = gitBaseline({ dir });
    expect(baseline.describe()).toBe('git HEAD~1 (HEAD is the first commit: every schema is new)');
    const reports = await checkSchemas(baseline, readLocalSchemas(dir));
    expect(reports.map((r) => r.status)).toEqual(['new']);
  });

  it('a revision that does not exist is an error, not "every schema is new"', () => {
    writeFileSync(join(dir, 'market.prices-value.avsc'), v1);
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    expect(() => gitBaseline({ dir, ref: 'nosuchref' })).toThrow(
      '--against nosuchref: no such git revision in this clone',
    );
    expect(() => gitBaseline({ dir, ref: 'HEAD~1' })).toThrow(/--against HEAD~1: no such git revision/);
  });

  it('a shallow clone without the previous commit is an error naming the fix', async () => {
    writeFileSync(join(dir, 'market.prices-value.avsc'), v1);
    git('add', '.');
    git('commit', '-q', '-m', 'v1');
    writeFileSync(
      join(dir, 'market.prices-value.avsc'),
      price([]).replace('"area","type":"string"', '"area","type":"int"'),
    );
    git('commit', '-q', '-am', 'breaking');
    const shallow = mkdtempSync(join(tmpdir(), 'optibid-schemas-shallow-'));
    try {
      execFileSync('git', ['clone', '-q', '--depth', '1', `file://${repo}`, shallow], { stdio: 'ignore' });
      const sdir = join(shallow, 'schemas', 'avro');
      expect(() => gitBaseline({ dir: sdir })).toThrow(
        /HEAD~1 is not in this clone\. This is a shallow clone: fetch more history \(git fetch --deepen=1/,
      );
      execFileSync('git', ['fetch', '-q', '--deepen=1'], { cwd: shallow, stdio: 'ignore' });
      const reports = await checkSchemas(gitBaseline({ dir: sdir }), readLocalSchemas(sdir));
      expect(reports[0]).toMatchObject({ status: 'incompatible', against: 'git HEAD~1' });
    } finally {
      rmSync(shallow, { recursive: true, force: true });
    }
  });
});
