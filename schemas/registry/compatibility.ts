import { namedTypes, parseSchema, type AvroJson, type ParsedSchema } from './avro-schema.js';

/** Compatibility levels, as Confluent Schema Registry names them. */
export const compatibilityLevels = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof compatibilityLevels)[number];

export function isCompatibilityLevel(x: unknown): x is CompatibilityLevel {
  return typeof x === 'string' && (compatibilityLevels as readonly string[]).includes(x);
}

/** Why a reader schema cannot read data written with a writer schema (Avro schema resolution). */
export interface Incompatibility {
  kind:
    | 'TYPE_MISMATCH'
    | 'NAME_MISMATCH'
    | 'READER_FIELD_MISSING_DEFAULT_VALUE'
    | 'MISSING_ENUM_SYMBOLS'
    | 'FIXED_SIZE_MISMATCH'
    | 'MISSING_UNION_BRANCH';
  /** Where, in words: `MarketPrice.price`, `TelemetryReading.quality (enum ReadingQuality)`. */
  location: string;
  /** JSON-pointer-style path in the reader schema, as Confluent reports it: /fields/3/type. */
  path: string;
  /** The reason, in words, from the reader's point of view. */
  reason: string;
}

const promotions: Record<string, string[]> = {
  int: ['int', 'long', 'float', 'double'],
  long: ['long', 'float', 'double'],
  float: ['float', 'double'],
  double: ['double'],
  string: ['string', 'bytes'],
  bytes: ['bytes', 'string'],
};

type Names = Map<string, Record<string, unknown>>;
type Node = string | Record<string, unknown> | AvroJson[];

const shortName = (full: string) => full.slice(full.lastIndexOf('.') + 1);

function resolve(node: AvroJson, names: Names): Node {
  if (typeof node === 'string') return names.get(node) ?? node;
  return node as Node;
}

function kindOf(node: Node): string {
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return 'union';
  return node.type as string;
}

function describe(node: Node): string {
  if (typeof node === 'string') return node;
  if (Array.isArray(node))
    return `union [${node.map((n) => (typeof n === 'string' ? n : describe(n as Node))).join(', ')}]`;
  const k = node.type as string;
  if (k === 'record' || k === 'error' || k === 'enum' || k === 'fixed') return `${k} ${shortName(node.name as string)}`;
  if (k === 'array') return `array of ${describe(node.items as Node)}`;
  if (k === 'map') return `map of ${describe(node.values as Node)}`;
  return k;
}

class Checker {
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly readerNames: Names,
    private readonly writerNames: Names,
  ) {}

  check(readerNode: AvroJson, writerNode: AvroJson, location: string, path: string): Incompatibility[] {
    const reader = resolve(readerNode, this.readerNames);
    const writer = resolve(writerNode, this.writerNames);
    const rk = kindOf(reader);
    const wk = kindOf(writer);

    if (wk === 'union') {
      // Every branch the writer may have used must be readable.
      const out: Incompatibility[] = [];
      (writer as AvroJson[]).forEach((branch, i) => {
        const problems = this.check(readerNode, branch, location, path);
        if (problems.length > 0 && rk === 'union') {
          out.push({
            kind: 'MISSING_UNION_BRANCH',
            location,
            path,
            reason: `the writer may write ${describe(resolve(branch, this.writerNames))} (union branch ${i}) but the reader's ${describe(reader)} has no branch that can read it`,
          });
        } else out.push(...problems);
      });
      return out;
    }
    if (rk === 'union') {
      let first: Incompatibility[] | undefined;
      for (const branch of reader as AvroJson[]) {
        const problems = this.check(branch, writerNode, location, path);
        if (problems.length === 0) return [];
        first ??= problems;
      }
      return [
        {
          kind: 'MISSING_UNION_BRANCH',
          location,
          path,
          reason: `the writer writes ${describe(writer)} but no branch of the reader's ${describe(reader)} can read it`,
        },
      ];
    }
    if (promotions[wk]) {
      if (promotions[wk]!.includes(rk)) return [];
      return [mismatch(location, path, reader, writer)];
    }
    if (wk === 'null' || wk === 'boolean') return rk === wk ? [] : [mismatch(location, path, reader, writer)];
    if (rk !== wk && !(isRecord(rk) && isRecord(wk))) return [mismatch(location, path, reader, writer)];

    const r = reader as Record<string, unknown>;
    const w = writer as Record<string, unknown>;
    if (rk === 'array') return this.check(r.items as AvroJson, w.items as AvroJson, `${location}[]`, `${path}/items`);
    if (rk === 'map') return this.check(r.values as AvroJson, w.values as AvroJson, `${location}{}`, `${path}/values`);

    // Named types: the (unqualified) names must match, or a reader alias must name the writer.
    const rName = r.name as string;
    const wName = w.name as string;
    const aliases = (r.aliases as string[] | undefined) ?? [];
    if (shortName(rName) !== shortName(wName) && !aliases.includes(wName)) {
      return [
        {
          kind: 'NAME_MISMATCH',
          location,
          path: `${path}/name`,
          reason: `the reader's ${rk} is named ${rName} but the writer's is ${wName}, and no alias links them`,
        },
      ];
    }
    if (rk === 'fixed') {
      return r.size === w.size
        ? []
        : [
            {
              kind: 'FIXED_SIZE_MISMATCH',
              location,
              path: `${path}/size`,
              reason: `fixed ${shortName(rName)} is ${r.size} bytes in the reader but ${w.size} bytes in the writer`,
            },
          ];
    }
    if (rk === 'enum') {
      const readerSymbols = r.symbols as string[];
      const missing = (w.symbols as string[]).filter((s) => !readerSymbols.includes(s));
      if (missing.length === 0 || (typeof r.default === 'string' && readerSymbols.includes(r.default))) return [];
      return [
        {
          kind: 'MISSING_ENUM_SYMBOLS',
          location: `${location} (enum ${shortName(rName)})`,
          path: `${path}/symbols`,
          reason: `the writer may write symbol${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that the reader's enum ${shortName(rName)} does not have, and the reader's enum has no default to fall back to`,
        },
      ];
    }
    // Records.
    const pair = `${rName}|${wName}`;
    if (this.inProgress.has(pair)) return [];
    this.inProgress.add(pair);
    try {
      const out: Incompatibility[] = [];
      const writerFields = w.fields as { name: string; type: AvroJson }[];
      (r.fields as { name: string; type: AvroJson; default?: unknown; aliases?: string[] }[]).forEach((field, i) => {
        const where = `${shortName(rName)}.${field.name}`;
        const wf =
          writerFields.find((f) => f.name === field.name) ?? writerFields.find((f) => field.aliases?.includes(f.name));
        if (!wf) {
          if (!('default' in field)) {
            out.push({
              kind: 'READER_FIELD_MISSING_DEFAULT_VALUE',
              location: where,
              path: `${path}/fields/${i}`,
              reason: `field ${field.name} exists only in the reader and has no default, so there is no value for it in data written without it`,
            });
          }
          return;
        }
        out.push(...this.check(field.type, wf.type, where, `${path}/fields/${i}/type`));
      });
      return out;
    } finally {
      this.inProgress.delete(pair);
    }
  }
}

const isRecord = (k: string) => k === 'record' || k === 'error';

function mismatch(location: string, path: string, reader: Node, writer: Node): Incompatibility {
  return {
    kind: 'TYPE_MISMATCH',
    location,
    path,
    reason: `${location || 'the value'} is ${describe(reader)} in the reader but ${describe(writer)} in the writer, and Avro cannot read ${describe(writer)} as ${describe(reader)}`,
  };
}

/** Avro schema resolution: the reasons `reader` cannot read data written with `writer` (empty when it can). */
export function readerCanRead(reader: ParsedSchema, writer: ParsedSchema): Incompatibility[] {
  const checker = new Checker(namedTypes(reader.json), namedTypes(writer.json));
  const rootName = (j: AvroJson) =>
    typeof j === 'object' && !Array.isArray(j) && typeof j.name === 'string' ? shortName(j.name) : '';
  return checker.check(reader.json, writer.json, rootName(reader.json), '');
}

/** An existing version a new schema is checked against. */
export interface VersionedSchema {
  version: number;
  schema: ParsedSchema;
}

/** One finding of a compatibility check, with the sentence shown to users. */
export interface CompatibilityMessage extends Incompatibility {
  /** The existing version the new schema was compared with. */
  version: number;
  /** 'backward': the new schema reading old data; 'forward': old readers reading new data. */
  direction: 'backward' | 'forward';
  message: string;
}

/**
 * Checks `candidate` against the existing versions (oldest first) under `level`.
 * BACKWARD: the new schema reads data written with the latest version; FORWARD: the latest reads data
 * written with the new one; FULL: both; *_TRANSITIVE: against every version, not only the latest.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: ParsedSchema,
  existing: VersionedSchema[],
): CompatibilityMessage[] {
  if (level === 'NONE' || existing.length === 0) return [];
  const targets = level.endsWith('_TRANSITIVE') ? existing : existing.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const out: CompatibilityMessage[] = [];
  for (const target of [...targets].reverse()) {
    if (backward) {
      for (const p of readerCanRead(candidate, target.schema)) {
        out.push({
          ...p,
          version: target.version,
          direction: 'backward',
          message: `new schema cannot read data written with version ${target.version}: ${p.reason} (at ${p.location || 'the top level'}, path '${p.path || '/'}')`,
        });
      }
    }
    if (forward) {
      for (const p of readerCanRead(target.schema, candidate)) {
        out.push({
          ...p,
          version: target.version,
          direction: 'forward',
          message: `consumers on version ${target.version} cannot read data written with the new schema: ${p.reason} (at ${p.location || 'the top level'}, path '${p.path || '/'}')`,
        });
      }
    }
  }
  return out;
}

/** Convenience for tests and the CLI: parse two schema strings and check `reader` against `writer`. */
export function canRead(reader: string, writer: string): Incompatibility[] {
  return readerCanRead(parseSchema(reader), parseSchema(writer));
}
