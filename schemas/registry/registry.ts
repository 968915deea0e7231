import { randomUUID } from 'node:crypto';
import { parseSchema, type ParsedSchema } from './avro-schema.js';
import {
  checkCompatibility,
  isCompatibilityLevel,
  type CompatibilityLevel,
  type CompatibilityMessage,
} from './compatibility.js';
import { RegistryError } from './errors.js';
import { keyText, modes, type Mode, type VersionEntry } from './state.js';
import type { LogRecord, RegistryStore } from './store.js';

/** The body of a register, lookup or compatibility request. */
export interface SchemaRequest {
  schema?: unknown;
  schemaType?: string;
  references?: unknown[];
}

/** What the REST API returns for one version. */
export interface VersionView {
  subject: string;
  id: number;
  version: number;
  schema: string;
  schemaType?: string;
}

export const defaultCompatibility: CompatibilityLevel = 'BACKWARD';
const maxVersion = 2 ** 31 - 1;

const view = (e: VersionEntry): VersionView => ({
  subject: e.subject,
  id: e.id,
  version: e.version,
  schema: e.parsed.text,
});

/**
 * The schema registry's operations, independent of HTTP: subjects, versions, ids, compatibility
 * configuration and modes, with Confluent's semantics and error codes. Writes are serialised within
 * an instance; across instances the log decides (see state.ts).
 */
export class SchemaRegistry {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly store: RegistryStore) {}

  private get state() {
    return this.store.state;
  }

  /** Runs `fn` after every earlier write of this instance. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads run against local state; on a miss they sync once, since another instance may have just written. */
  private async withSync<T>(fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof RegistryError) || err.status !== 404) throw err;
      await this.store.sync();
      return fn();
    }
  }

  private parse(req: SchemaRequest): ParsedSchema {
    if (typeof req.schema !== 'string')
      throw RegistryError.invalidSchema('Invalid schema: the request body needs a "schema" string');
    return parseSchema(req.schema, req.schemaType ?? 'AVRO', req.references ?? []);
  }

  // ---- subjects and versions ------------------------------------------------------------------

  async subjects(opts: { deleted?: boolean; prefix?: string } = {}): Promise<string[]> {
    await this.store.sync();
    return [...this.state.subjects.keys()]
      .filter((s) => this.state.versions(s, opts.deleted).length > 0)
      .filter((s) => !opts.prefix || s.startsWith(opts.prefix))
      .sort();
  }

  private liveOrThrow(subject: string, deleted = false): VersionEntry[] {
    const versions = this.state.versions(subject, deleted);
    if (versions.length === 0) throw RegistryError.subjectNotFound(subject);
    return versions;
  }

  async versions(subject: string, deleted = false): Promise<number[]> {
    return this.withSync(() => this.liveOrThrow(subject, deleted).map((v) => v.version));
  }

  /** Resolves `latest`, `-1` or a number to one entry. */
  private entry(subject: string, version: string, deleted = false): VersionEntry {
    const n = parseVersion(version);
    const versions = this.liveOrThrow(subject, deleted);
    const found = n === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === n);
    if (!found) throw RegistryError.versionNotFound(subject, version);
    return found;
  }

  async getVersion(subject: string, version: string, deleted = false): Promise<VersionView> {
    return this.withSync(() => view(this.entry(subject, version, deleted)));
  }

  /** `POST /subjects/{s}`: the version of `subject` that has this schema. */
  async lookup(subject: string, req: SchemaRequest, deleted = false): Promise<VersionView> {
    const parsed = this.parse(req);
    return this.withSync(() => {
      const versions = this.liveOrThrow(subject, deleted);
      const found = [...versions].reverse().find((v) => v.parsed.canonical === parsed.canonical);
      if (!found) throw RegistryError.schemaNotFound('Schema not found');
      return view(found);
    });
  }

  /** `POST /subjects/{s}/versions`: registers (or finds) the schema; answers its global id. */
  async register(subject: string, req: SchemaRequest): Promise<VersionView> {
    const parsed = this.parse(req);
    return this.exclusive(async () => {
      await this.store.sync();
      const mode = this.effectiveMode(subject);
      if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
        throw RegistryError.operationNotPermitted(`Subject ${subject} is in read-only mode`);
      }
      for (let attempt = 0; attempt < 10; attempt++) {
        const live = this.state.versions(subject);
        const same = live.find((v) => v.parsed.canonical === parsed.canonical);
        if (same) return view(same);
        const level = this.effectiveLevel(subject);
        const problems = checkCompatibility(
          level,
          parsed,
          live.map((v) => ({ version: v.version, schema: v.parsed })),
        );
        if (problems.length > 0) throw RegistryError.incompatible(problems.map((p) => p.message));
        const nonce = randomUUID();
        const version = this.state.nextVersion(subject);
        const key = { keytype: 'SCHEMA' as const, subject, version, nonce };
        await this.store.append([
          {
            key,
            value: {
              subject,
              version,
              schema: parsed.text,
              schemaType: 'AVRO',
              id: this.state.idOf(parsed.canonical) ?? null,
            },
          },
        ]);
        const outcome = this.state.outcome(nonce);
        this.state.forgetOutcome(nonce);
        if (outcome?.accepted) return view(outcome.entry);
        // Another instance won the race for this version: start over from the new state.
        await this.store.sync();
      }
      throw RegistryError.storeError(`could not register a schema under ${subject}: too many concurrent registrations`);
    });
  }

  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.exclusive(async () => {
      await this.store.sync();
      const all = this.state.versions(subject, true);
      if (all.length === 0) throw RegistryError.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent) {
        if (live.length === 0) throw RegistryError.subjectSoftDeleted(subject);
        await this.store.append(live.map(softDelete));
        return live.map((v) => v.version);
      }
      if (live.length > 0) throw RegistryError.subjectNotSoftDeleted(subject);
      const records: LogRecord[] = all.flatMap(hardDelete);
      if (this.state.configs.has(subject)) records.push({ key: { keytype: 'CONFIG', subject, magic: 0 }, value: null });
      if (this.state.modes.has(subject)) records.push({ key: { keytype: 'MODE', subject, magic: 0 }, value: null });
      await this.store.append(records);
      return all.map((v) => v.version);
    });
  }

  async deleteVersion(subject: string, version: string, permanent = false): Promise<number> {
    const n = parseVersion(version);
    return this.exclusive(async () => {
      await this.store.sync();
      const all = this.state.versions(subject, true);
      if (all.length === 0) throw RegistryError.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      const target =
        n === 'latest'
          ? (permanent ? all : live)[(permanent ? all : live).length - 1]
          : all.find((v) => v.version === n);
      if (!target) throw RegistryError.versionNotFound(subject, version);
      if (!permanent) {
        if (target.deleted) throw RegistryError.versionSoftDeleted(subject, target.version);
        await this.store.append([softDelete(target)]);
      } else {
        if (!target.deleted) throw RegistryError.versionNotSoftDeleted(subject, target.version);
        await this.store.append(hardDelete(target));
      }
      return target.version;
    });
  }

  // ---- ids ------------------------------------------------------------------------------------

  private withId(id: number): VersionEntry[] {
    const entries = Number.isInteger(id) ? this.state.entriesWithId(id) : [];
    if (entries.length === 0) throw RegistryError.schemaNotFound(`Schema ${id} not found`);
    return entries;
  }

  async schemaById(id: number): Promise<{ schema: string }> {
    return this.withSync(() => ({ schema: this.withId(id)[0]!.parsed.text }));
  }

  async subjectsById(id: number, deleted = false): Promise<string[]> {
    return this.withSync(() =>
      [
        ...new Set(
          this.withId(id)
            .filter((e) => deleted || !e.deleted)
            .map((e) => e.subject),
        ),
      ].sort(),
    );
  }

  async versionsById(id: number, deleted = false): Promise<{ subject: string; version: number }[]> {
    return this.withSync(() =>
      this.withId(id)
        .filter((e) => deleted || !e.deleted)
        .map((e) => ({ subject: e.subject, version: e.version }))
        .sort((a, b) => a.subject.localeCompare(b.subject) || a.version - b.version),
    );
  }

  // ---- compatibility --------------------------------------------------------------------------

  /**
   * Tests a schema against one version (`version` given) or, without it, against the versions the
   * subject's level names (latest, or all for *_TRANSITIVE).
   */
  async testCompatibility(
    subject: string,
    version: string | undefined,
    req: SchemaRequest,
  ): Promise<CompatibilityMessage[]> {
    const parsed = this.parse(req);
    await this.store.sync();
    const level = this.effectiveLevel(subject);
    if (version === undefined) {
      const live = this.state.versions(subject);
      return checkCompatibility(
        level,
        parsed,
        live.map((v) => ({ version: v.version, schema: v.parsed })),
      );
    }
    const target = this.entry(subject, version);
    const single = level.replace('_TRANSITIVE', '') as CompatibilityLevel;
    return checkCompatibility(single, parsed, [{ version: target.version, schema: target.parsed }]);
  }

  // ---- config and mode ------------------------------------------------------------------------

  effectiveLevel(subject?: string): CompatibilityLevel {
    return (
      (subject !== undefined ? this.state.configs.get(subject) : undefined) ??
      this.state.configs.get(null) ??
      defaultCompatibility
    );
  }

  async getConfig(subject?: string, defaultToGlobal = false): Promise<CompatibilityLevel> {
    await this.store.sync();
    if (subject === undefined) return this.effectiveLevel();
    const own = this.state.configs.get(subject);
    if (own) return own;
    if (defaultToGlobal) return this.effectiveLevel();
    throw RegistryError.subjectConfigNotFound(subject);
  }

  async setConfig(subject: string | undefined, level: unknown): Promise<CompatibilityLevel> {
    if (!isCompatibilityLevel(level)) throw RegistryError.invalidCompatibilityLevel(level);
    return this.exclusive(async () => {
      await this.store.append([
        { key: { keytype: 'CONFIG', subject: subject ?? null, magic: 0 }, value: { compatibilityLevel: level } },
      ]);
      return level;
    });
  }

  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    return this.exclusive(async () => {
      await this.store.sync();
      const old = subject === undefined ? this.effectiveLevel() : this.state.configs.get(subject);
      if (old === undefined) throw RegistryError.subjectConfigNotFound(subject!);
      await this.store.append([{ key: { keytype: 'CONFIG', subject: subject ?? null, magic: 0 }, value: null }]);
      return old;
    });
  }

  effectiveMode(subject?: string): Mode {
    return (
      (subject !== undefined ? this.state.modes.get(subject) : undefined) ?? this.state.modes.get(null) ?? 'READWRITE'
    );
  }

  async getMode(subject?: string, defaultToGlobal = false): Promise<Mode> {
    await this.store.sync();
    if (subject === undefined) return this.effectiveMode();
    const own = this.state.modes.get(subject);
    if (own) return own;
    if (defaultToGlobal) return this.effectiveMode();
    throw RegistryError.subjectModeNotFound(subject);
  }

  async setMode(subject: string | undefined, mode: unknown): Promise<Mode> {
    if (typeof mode !== 'string' || !(modes as readonly string[]).includes(mode)) throw RegistryError.invalidMode(mode);
    return this.exclusive(async () => {
      await this.store.append([{ key: { keytype: 'MODE', subject: subject ?? null, magic: 0 }, value: { mode } }]);
      return mode as Mode;
    });
  }

  async deleteMode(subject: string): Promise<Mode> {
    return this.exclusive(async () => {
      await this.store.sync();
      const old = this.state.modes.get(subject);
      if (old === undefined) throw RegistryError.subjectModeNotFound(subject);
      await this.store.append([{ key: { keytype: 'MODE', subject, magic: 0 }, value: null }]);
      return old;
    });
  }
}

function softDelete(e: VersionEntry): LogRecord {
  return { key: { keytype: 'DELETE_VERSION', nonce: e.nonce }, value: { subject: e.subject, version: e.version } };
}

function hardDelete(e: VersionEntry): LogRecord[] {
  const schemaKey = JSON.parse(e.recordKey) as LogRecord['key'];
  return [
    { key: schemaKey, value: null },
    { key: { keytype: 'DELETE_VERSION', nonce: e.nonce }, value: null },
  ];
}

/** `latest`, `-1` or an integer in [1, 2^31-1]; anything else is error 42202. */
export function parseVersion(version: string): number | 'latest' {
  if (version === 'latest' || version === '-1') return 'latest';
  if (!/^\d+$/.test(version)) throw RegistryError.invalidVersion(version);
  const n = Number(version);
  if (n < 1 || n > maxVersion) throw RegistryError.invalidVersion(version);
  return n;
}

export { keyText };
