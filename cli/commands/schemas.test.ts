import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../program.js';

/** Runs `optibid schemas check ...` in-process: exit code, stdout (console.log) and stderr. */
async function check(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  const before = process.exitCode;
  try {
    return { code: await run(['node', 'optibid', 'schemas', 'check', ...args]), out, err };
  } finally {
    process.exitCode = before;
    log.mockRestore();
    error.mockRestore();
  }
}

const schema = (fields: object[]) =>
  JSON.stringify({
    type: 'record',
    name: 'Reading',
    namespace: 'energy.optibid',
    doc: 'r',
    fields: [{ name: 'assetId', type: 'string', doc: 'a' }, ...fields],
  });

// The CI gate (scripts/test-all.mjs extraChecks) runs `optibid schemas check` with no baseline option:
// these run the same command on a throwaway repository whose last commit changes a schema.
describe('optibid schemas check (the CI gate, git mode)', () => {
  let repo: string;
  let dir: string;
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const commit = (text: string, message: string) => {
    writeFileSync(join(dir, 'telemetry.readings-value.avsc'), text);
    git('add', '.');
    git('commit', '-q', '-m', message);
  };
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'optibid-schema-gate-'));
    git('init', '-q');
    git('config', 'user.email', 't@example.invalid');
    git('config', 'user.name', 't');
    dir = join(repo, 'schemas', 'avro');
    mkdirSync(dir, { recursive: true });
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('fails (exit 1) when the last commit made a schema incompatible, explaining the field', async () => {
    commit(schema([{ name: 'value', type: 'double', doc: 'v' }]), 'v1');
    commit(
      schema([
        { name: 'value', type: 'double', doc: 'v' },
        { name: 'unit', type: 'string', doc: 'u' },
      ]),
      'add a required field',
    );
    const r = await check('--schemas-dir', dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL  telemetry.readings-value  (BACKWARD against git HEAD~1)');
    expect(r.out).toMatch(
      /Reading\.unit: consumers on the new schema cannot read records written with the schema at HEAD~1: .*no default/,
    );
  });

  it('passes a compatible evolution and the first commit (nothing to compare with)', async () => {
    commit(schema([{ name: 'value', type: 'double', doc: 'v' }]), 'v1');
    const first = await check('--schemas-dir', dir);
    expect(first.code).toBe(0);
    expect(first.out).toContain('git HEAD~1 (HEAD is the first commit: every schema is new)');
    commit(
      schema([
        { name: 'value', type: 'double', doc: 'v' },
        { name: 'unit', type: 'string', default: 'kW', doc: 'u' },
      ]),
      'add a field with a default',
    );
    const second = await check('--schemas-dir', dir);
    expect(second.code).toBe(0);
    expect(second.out).toContain('ok    telemetry.readings-value  (BACKWARD against git HEAD~1)');
  });

  it('refuses a revision that is not in the clone instead of passing', async () => {
    commit(schema([]), 'v1');
    const r = await check('--schemas-dir', dir, '--against', 'nosuchref');
    expect(r.code).toBe(1);
    expect(r.err).toContain('optibid: --against nosuchref: no such git revision in this clone');
    expect(r.out).toBe('');
  });
});
