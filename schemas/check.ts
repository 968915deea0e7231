import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpRegistryClient, OptiBidError } from '@optibid/runtime';
import { parseSchema, type ParsedSchema } from './registry/avro-schema.js';
import {
  checkCompatibility,
  isCompatibilityLevel,
  type CompatibilityLevel,
  type CompatibilityMessage,
  type VersionedSchema,
} from './registry/compatibility.js';
import { RegistryError } from './registry/errors.js';

/** The folder of the .avsc files: schemas/avro, found from this module (source or dist). */
export function avroDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'avro'), join(here, '..', 'avro')];
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new OptiBidError('OPTIBID_ERR_CONFIG', `cannot find the schemas/avro folder near ${here}`);
  return found;
}

/** One schema file: its registry subject and text. */
export interface LocalSchema {
  subject: string;
  file: string;
  text: string;
}

export function readLocalSchemas(dir = avroDir()): LocalSchema[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((f) => ({
      subject: f.slice(0, -'.avsc'.length),
      file: join(dir, f),
      text: readFileSync(join(dir, f), 'utf8'),
    }));
}

/** The result for one subject. */
export interface SubjectReport {
  subject: string;
  /** ok: compatible; new: nothing to compare with; incompatible; invalid: the file does not parse. */
  status: 'ok' | 'new' | 'unchanged' | 'incompatible' | 'invalid';
  level?: CompatibilityLevel;
  /** What it was compared with: `registry version 3`, `git HEAD~1`. */
  against?: string;
  messages: string[];
}

/** Where the previous versions of each subject come from. */
export interface Baseline {
  describe(): string;
  /** Existing versions (oldest first) and the level to check under; undefined when the subject is new. */
  previous(
    subject: string,
  ): Promise<{ versions: VersionedSchema[]; level: CompatibilityLevel; against: string } | undefined>;
}

/** The registry's registered versions and each subject's compatibility level. */
export function registryBaseline(url: string): Baseline {
  const base = url.replace(/\/+$/, '');
  const get = async <T>(path: string): Promise<T | undefined> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new OptiBidError('OPTIBID_ERR_NETWORK', `schema registry ${base} unreachable: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
    if (res.status === 404) return undefined;
    if (!res.ok)
      throw new OptiBidError(
        'OPTIBID_ERR_UPSTREAM',
        `schema registry ${base}${path}: HTTP ${res.status} ${await res.text()}`,
      );
    return (await res.json()) as T;
  };
  return {
    describe: () => `registry ${base}`,
    async previous(subject) {
      const s = encodeURIComponent(subject);
      const versions = await get<number[]>(`/subjects/${s}/versions`);
      if (!versions || versions.length === 0) return undefined;
      const config = await get<{ compatibilityLevel: string }>(`/config/${s}?defaultToGlobal=true`);
      const level = isCompatibilityLevel(config?.compatibilityLevel) ? config.compatibilityLevel : 'BACKWARD';
      const needed = level.endsWith('_TRANSITIVE') ? versions : versions.slice(-1);
      const out: VersionedSchema[] = [];
      for (const v of needed) {
        const meta = await get<{ schema: string }>(`/subjects/${s}/versions/${v}`);
        if (meta) out.push({ version: v, schema: parseSchema(meta.schema) });
      }
      return { versions: out, level, against: `registry version ${versions[versions.length - 1]}` };
    },
  };
}

/**
 * The same files at a git revision, under one level (default BACKWARD). Without `ref`: HEAD when
 * the folder has uncommitted changes, else HEAD~1 (the previous commit); when HEAD is the first commit
 * there is no previous version and every schema counts as new. A `ref` that does not resolve, or a
 * shallow clone that lacks the previous commit, is an error (OPTIBID_ERR_USAGE): a gate that cannot see
 * its baseline must not pass as if every schema were new.
 */
export function gitBaseline(opts: { ref?: string; level?: CompatibilityLevel; dir?: string } = {}): Baseline {
  const dir = opts.dir ?? avroDir();
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const succeeds = (...args: string[]) => {
    try {
      git(...args);
      return true;
    } catch {
      return false;
    }
  };
  if (!succeeds('rev-parse', '--show-toplevel')) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `${dir} is not in a git checkout (or git is not installed); pass --registry URL to compare with a registry instead`,
    );
  }
  const level = opts.level ?? 'BACKWARD';
  const resolves = (ref: string) => succeeds('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  const shallow =
    succeeds('rev-parse', '--is-shallow-repository') && git('rev-parse', '--is-shallow-repository').trim() === 'true';
  const deepen = shallow ? ' This is a shallow clone: fetch more history (git fetch --deepen=1, or --unshallow).' : '';

  let ref: string;
  let none: string | undefined; // why there is no previous version at all
  if (opts.ref !== undefined) {
    if (!resolves(opts.ref)) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `--against ${opts.ref}: no such git revision in this clone (a branch, tag or commit is needed).${deepen}`,
      );
    }
    ref = opts.ref;
  } else if (!resolves('HEAD')) {
    ref = 'HEAD';
    none = 'no commit yet: every schema is new';
  } else if (git('status', '--porcelain', '--', '.').trim()) {
    ref = 'HEAD';
  } else {
    ref = 'HEAD~1';
    if (!resolves(ref)) {
      if (shallow) {
        throw new OptiBidError(
          'OPTIBID_ERR_USAGE',
          `cannot compare with the previous commit: HEAD~1 is not in this clone.${deepen} Or pass --against REF or --registry URL.`,
        );
      }
      none = 'HEAD is the first commit: every schema is new';
    }
  }
  return {
    describe: () => (none ? `git ${ref} (${none})` : `git ${ref}`),
    async previous(subject) {
      if (none) return undefined;
      // `<ref>:./<file>` is relative to cwd (this folder), so no path arithmetic can miss the file.
      const spec = `${ref}:./${subject}.avsc`;
      if (!succeeds('cat-file', '-e', spec)) return undefined; // the subject did not exist then
      return { versions: [{ version: 0, schema: parseSchema(git('show', spec)) }], level, against: `git ${ref}` };
    },
  };
}

/** Checks every local schema against the baseline; explains each incompatible field. */
export async function checkSchemas(
  baseline: Baseline,
  schemas: LocalSchema[] = readLocalSchemas(),
): Promise<SubjectReport[]> {
  const reports: SubjectReport[] = [];
  for (const local of schemas) {
    let parsed: ParsedSchema;
    try {
      parsed = parseSchema(JSON.stringify(JSON.parse(local.text)));
    } catch (err) {
      const why = err instanceof RegistryError || err instanceof SyntaxError ? err.message : String(err);
      reports.push({ subject: local.subject, status: 'invalid', messages: [`${local.file}: ${why}`] });
      continue;
    }
    const prev = await baseline.previous(local.subject);
    if (!prev) {
      reports.push({ subject: local.subject, status: 'new', messages: [] });
      continue;
    }
    const latest = prev.versions[prev.versions.length - 1];
    if (latest && latest.schema.canonical === parsed.canonical) {
      reports.push({
        subject: local.subject,
        status: 'unchanged',
        level: prev.level,
        against: prev.against,
        messages: [],
      });
      continue;
    }
    const found: CompatibilityMessage[] = checkCompatibility(prev.level, parsed, prev.versions);
    reports.push({
      subject: local.subject,
      status: found.length === 0 ? 'ok' : 'incompatible',
      level: prev.level,
      against: prev.against,
      messages: found.map((m) => explain(m, prev.against)),
    });
  }
  return reports;
}

/** One finding as a sentence naming the field, what changed and who breaks. */
function explain(m: CompatibilityMessage, against: string): string {
  const other = m.version > 0 ? `version ${m.version}` : against.replace(/^git /, 'the schema at ');
  const who =
    m.direction === 'backward'
      ? `consumers on the new schema cannot read records written with ${other}`
      : `consumers still on ${other} cannot read records written with the new schema`;
  return `${m.location || '(top level)'}: ${who}: ${m.reason}.`;
}

/** Human-readable report; the second element is true when everything is compatible. */
export function formatReports(reports: SubjectReport[], baseline: Baseline): [string, boolean] {
  const lines = [`comparing ${reports.length} schemas in schemas/avro with ${baseline.describe()}`];
  for (const r of reports) {
    const tag = { ok: 'ok', new: 'new', unchanged: 'same', incompatible: 'FAIL', invalid: 'FAIL' }[r.status];
    const detail =
      r.status === 'new'
        ? 'not there yet: nothing to compare'
        : r.status === 'invalid'
          ? 'invalid schema'
          : `${r.level} against ${r.against}`;
    lines.push(`${tag.padEnd(4)}  ${r.subject}  (${detail})`);
    for (const m of r.messages) lines.push(`        - ${m}`);
  }
  const ok = reports.every((r) => r.status !== 'incompatible' && r.status !== 'invalid');
  const bad = reports.filter((r) => !['ok', 'new', 'unchanged'].includes(r.status)).length;
  lines.push(ok ? 'all schemas are compatible' : `${bad} schema(s) incompatible or invalid`);
  return [lines.join('\n'), ok];
}

/** Registers every local schema with a registry (what a deploy does); returns subject → id. */
export async function registerSchemas(
  url: string,
  schemas: LocalSchema[] = readLocalSchemas(),
): Promise<Map<string, number>> {
  const client = new HttpRegistryClient(url);
  const ids = new Map<string, number>();
  for (const s of schemas)
    ids.set(
      s.subject,
      await client.register(s.subject, { schemaType: 'AVRO', schema: JSON.stringify(JSON.parse(s.text)) }),
    );
  return ids;
}
