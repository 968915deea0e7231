import { parseSchema, type ParsedSchema } from './avro-schema.js';
import type { CompatibilityLevel } from './compatibility.js';

/**
 * The registry's state is a pure function of its log (the `_schemas` topic, or an in-memory array):
 * every instance applies the same records in the same order and so reaches the same ids and versions.
 *
 * Records (key → value, both JSON; value null is a tombstone):
 * - `{keytype:'SCHEMA', subject, version, nonce}` → `{subject, version, schema, schemaType, id|null}`:
 *   a registration attempt. Accepted when, at its place in the log, the subject has no live version
 *   with the same schema and `version` is above every version the subject has. Its id is the id the
 *   same schema already has, else the record's offset + 1, so ids come from log positions: unique,
 *   never reused, the same on every instance. Written once; a tombstone hard-deletes it.
 * - `{keytype:'DELETE_VERSION', nonce}` → `{subject, version}`: soft delete of that registration.
 * - `{keytype:'CONFIG', subject|null}` → `{compatibilityLevel}`; `{keytype:'MODE', subject|null}` → `{mode}`.
 * Rejected attempts are tombstoned by whoever sees them, so compaction cannot revive them.
 */
export interface LogKey {
  keytype: 'SCHEMA' | 'DELETE_VERSION' | 'CONFIG' | 'MODE';
  subject?: string | null;
  version?: number;
  nonce?: string;
  magic?: number;
}

export interface SchemaValue {
  subject: string;
  version: number;
  schema: string;
  schemaType?: string;
  id: number | null;
}

/** One registered version of a subject. */
export interface VersionEntry {
  subject: string;
  version: number;
  id: number;
  parsed: ParsedSchema;
  deleted: boolean;
  /** The log key (serialised) of the SCHEMA record, for deletes. */
  recordKey: string;
  nonce: string;
}

/** What happened to a SCHEMA record. */
export type Outcome = { accepted: true; entry: VersionEntry } | { accepted: false; reason: string };

export const modes = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
export type Mode = (typeof modes)[number];

/** Serialises a log key deterministically (fixed attribute order). */
export function keyText(key: LogKey): string {
  const ordered: Record<string, unknown> = { keytype: key.keytype };
  if ('subject' in key) ordered.subject = key.subject;
  if (key.version !== undefined) ordered.version = key.version;
  if (key.nonce !== undefined) ordered.nonce = key.nonce;
  ordered.magic = key.magic ?? 1;
  return JSON.stringify(ordered);
}

export class RegistryState {
  /** subject → version → entry. */
  readonly subjects = new Map<string, Map<number, VersionEntry>>();
  private readonly byRecordKey = new Map<string, VersionEntry>();
  private readonly byNonceEntry = new Map<string, VersionEntry>();
  private readonly byNonce = new Map<string, Outcome>();
  /** id → entries using it (a schema registered under several subjects shares one id). */
  private readonly byId = new Map<number, Set<VersionEntry>>();
  private readonly idByCanonical = new Map<string, number>();
  readonly configs = new Map<string | null, CompatibilityLevel>();
  readonly modes = new Map<string | null, Mode>();
  /** Keys of SCHEMA records that were rejected and not yet tombstoned. */
  readonly rejectedKeys = new Set<string>();
  /** Offset of the last record applied (-1 before any). */
  lastOffset = -1;

  /** Applies one log record. `offset` must grow with every call. */
  apply(offset: number, keyRaw: string, valueRaw: string | null): void {
    this.lastOffset = offset;
    let key: LogKey;
    try {
      key = JSON.parse(keyRaw) as LogKey;
    } catch {
      return; // not ours: ignore foreign records
    }
    const value = valueRaw === null ? null : (JSON.parse(valueRaw) as Record<string, unknown>);
    const text = keyText(key);
    switch (key.keytype) {
      case 'SCHEMA':
        if (value === null) this.hardDelete(text);
        else this.register(offset, text, key, value as unknown as SchemaValue);
        return;
      case 'DELETE_VERSION': {
        if (value === null) return;
        const target = key.nonce === undefined ? undefined : this.byNonceEntry.get(key.nonce);
        if (target) target.deleted = true;
        return;
      }
      case 'CONFIG':
        if (value === null) this.configs.delete(key.subject ?? null);
        else this.configs.set(key.subject ?? null, value.compatibilityLevel as CompatibilityLevel);
        return;
      case 'MODE':
        if (value === null) this.modes.delete(key.subject ?? null);
        else this.modes.set(key.subject ?? null, value.mode as Mode);
        return;
      default:
        return;
    }
  }

  private register(offset: number, recordKey: string, key: LogKey, value: SchemaValue): void {
    // A producer retry may deliver the same record twice: the copy changes nothing.
    if (this.byRecordKey.has(recordKey)) return;
    const nonce = key.nonce ?? recordKey;
    const reject = (reason: string) => {
      this.byNonce.set(nonce, { accepted: false, reason });
      this.rejectedKeys.add(recordKey);
    };
    let parsed: ParsedSchema;
    try {
      parsed = parseSchema(value.schema, value.schemaType ?? 'AVRO');
    } catch (err) {
      return reject(`invalid schema: ${(err as Error).message}`);
    }
    const versions = this.subjects.get(value.subject);
    if (versions) {
      for (const v of versions.values()) {
        if (!v.deleted && v.parsed.canonical === parsed.canonical)
          return reject(`already registered as version ${v.version}`);
      }
      if (value.version <= Math.max(0, ...versions.keys())) return reject(`version ${value.version} is taken`);
    }
    const known = this.idByCanonical.get(parsed.canonical);
    if (value.id !== null && value.id !== undefined) {
      if (known !== undefined && known !== value.id) return reject(`schema already has id ${known}`);
      const users = this.byId.get(value.id);
      if (known === undefined && users && users.size > 0) return reject(`id ${value.id} belongs to another schema`);
    }
    const id = known ?? value.id ?? offset + 1;
    const entry: VersionEntry = {
      subject: value.subject,
      version: value.version,
      id,
      parsed,
      deleted: false,
      recordKey,
      nonce,
    };
    if (!versions) this.subjects.set(value.subject, new Map([[value.version, entry]]));
    else versions.set(value.version, entry);
    this.byRecordKey.set(recordKey, entry);
    this.byNonceEntry.set(nonce, entry);
    this.byNonce.set(nonce, { accepted: true, entry });
    if (!this.byId.has(id)) this.byId.set(id, new Set());
    this.byId.get(id)!.add(entry);
    this.idByCanonical.set(parsed.canonical, id);
  }

  private hardDelete(recordKey: string): void {
    this.rejectedKeys.delete(recordKey);
    const entry = this.byRecordKey.get(recordKey);
    if (!entry) return;
    this.byRecordKey.delete(recordKey);
    this.byNonceEntry.delete(entry.nonce);
    const versions = this.subjects.get(entry.subject);
    versions?.delete(entry.version);
    if (versions && versions.size === 0) this.subjects.delete(entry.subject);
    const users = this.byId.get(entry.id);
    users?.delete(entry);
    if (users && users.size === 0) {
      this.byId.delete(entry.id);
      this.idByCanonical.delete(entry.parsed.canonical);
    }
  }

  /** The fate of the SCHEMA record written with `nonce`, once applied. */
  outcome(nonce: string): Outcome | undefined {
    return this.byNonce.get(nonce);
  }

  forgetOutcome(nonce: string): void {
    this.byNonce.delete(nonce);
  }

  /** Versions of a subject, ascending; soft-deleted ones only when asked. */
  versions(subject: string, includeDeleted = false): VersionEntry[] {
    const versions = this.subjects.get(subject);
    if (!versions) return [];
    return [...versions.values()].filter((v) => includeDeleted || !v.deleted).sort((a, b) => a.version - b.version);
  }

  /** The id the schema already has in any subject. */
  idOf(canonical: string): number | undefined {
    return this.idByCanonical.get(canonical);
  }

  /** Entries that use schema `id` (empty when unknown or hard-deleted). */
  entriesWithId(id: number): VersionEntry[] {
    return [...(this.byId.get(id) ?? [])];
  }

  /** The next version number a subject would get. */
  nextVersion(subject: string): number {
    const versions = this.subjects.get(subject);
    return versions ? Math.max(0, ...versions.keys()) + 1 : 1;
  }
}
