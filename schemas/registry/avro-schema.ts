import avro from 'avsc';
import { RegistryError } from './errors.js';

/** A JSON Avro schema after normalisation: named types carry full names, no `namespace` attributes. */
export type AvroJson = string | AvroJson[] | { [key: string]: unknown; type: AvroJson | string };

/** A parsed, validated Avro schema. */
export interface ParsedSchema {
  /** The schema as the registry stores and returns it: compact JSON, attribute order as submitted. */
  text: string;
  /** Normalised JSON: the same schema written any way gives the same `canonical` string. */
  json: AvroJson;
  /** Dedup key: `json` serialised. Keeps docs, defaults, aliases and logical types (they matter to users). */
  canonical: string;
}

const primitiveNames = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const namedKinds = new Set(['record', 'error', 'enum', 'fixed']);

function qualify(name: string, namespace: string | undefined): string {
  if (name.includes('.') || primitiveNames.has(name)) return name;
  return namespace ? `${namespace}.${name}` : name;
}

/**
 * Normalises a schema: full names, primitives as strings, attributes in a fixed order (the others sorted),
 * so that `canonical` ignores formatting and attribute order but not meaning or documentation.
 */
export function normalize(schema: unknown, namespace?: string): AvroJson {
  if (typeof schema === 'string') return qualify(schema, namespace);
  if (Array.isArray(schema)) return schema.map((s) => normalize(s, namespace));
  if (schema === null || typeof schema !== 'object') throw new Error(`not a schema: ${JSON.stringify(schema)}`);
  const s = schema as Record<string, unknown>;
  const type = s.type;
  if (typeof type !== 'string') return normalize(type, namespace);
  const extra = Object.keys(s).filter((k) => k !== 'type');
  if (primitiveNames.has(type) && extra.length === 0) return type;
  const out: Record<string, unknown> = { type };
  let ns = namespace;
  if (namedKinds.has(type)) {
    const name = String(s.name);
    const full = name.includes('.')
      ? name
      : qualify(name, typeof s.namespace === 'string' ? s.namespace || undefined : namespace);
    ns = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : undefined;
    out.name = full;
  }
  if (typeof s.doc === 'string') out.doc = s.doc;
  if (type === 'record' || type === 'error') {
    out.fields = (s.fields as Record<string, unknown>[]).map((f) => {
      const field: Record<string, unknown> = { name: f.name, type: normalize(f.type, ns) };
      if (typeof f.doc === 'string') field.doc = f.doc;
      if ('default' in f) field.default = f.default;
      if (f.order !== undefined && f.order !== 'ascending') field.order = f.order;
      if (Array.isArray(f.aliases)) field.aliases = [...f.aliases];
      for (const k of Object.keys(f).sort()) {
        if (!['name', 'type', 'doc', 'default', 'order', 'aliases'].includes(k)) field[k] = f[k];
      }
      return field;
    });
  } else if (type === 'enum') {
    out.symbols = [...(s.symbols as string[])];
    if ('default' in s) out.default = s.default;
  } else if (type === 'fixed') {
    out.size = s.size;
  } else if (type === 'array') {
    out.items = normalize(s.items, ns);
  } else if (type === 'map') {
    out.values = normalize(s.values, ns);
  }
  if (Array.isArray(s.aliases)) out.aliases = (s.aliases as string[]).map((a) => qualify(a, ns));
  for (const k of extra.sort()) {
    if (
      !(k in out) &&
      !['namespace', 'name', 'doc', 'fields', 'symbols', 'size', 'items', 'values', 'default', 'aliases'].includes(k)
    )
      out[k] = s[k];
  }
  return out as AvroJson;
}

/**
 * Parses and validates an Avro schema string as the registry receives it.
 * Throws RegistryError 42201 (invalid schema) with the parser's reason.
 */
export function parseSchema(text: string, schemaType = 'AVRO', references: unknown[] = []): ParsedSchema {
  if (schemaType !== 'AVRO')
    throw RegistryError.invalidSchema(`schema type ${schemaType} is not supported; this registry stores AVRO schemas`);
  if (references.length > 0)
    throw RegistryError.invalidSchema(
      'schema references are not supported by this registry; inline the referenced types',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw RegistryError.invalidSchema(`Invalid schema: not valid JSON: ${(err as Error).message}`);
  }
  try {
    avro.Type.forSchema(raw as avro.Schema, { registry: {} });
  } catch (err) {
    throw RegistryError.invalidSchema(
      `Invalid schema ${text.length > 200 ? `${text.slice(0, 200)}...` : text}: ${(err as Error).message}`,
    );
  }
  const json = normalize(raw);
  return { text: JSON.stringify(raw), json, canonical: JSON.stringify(json) };
}

/** Full name → definition of every named type in a normalised schema. */
export function namedTypes(
  json: AvroJson,
  into = new Map<string, Record<string, unknown>>(),
): Map<string, Record<string, unknown>> {
  if (typeof json === 'string') return into;
  if (Array.isArray(json)) {
    json.forEach((j) => namedTypes(j, into));
    return into;
  }
  const type = json.type as string;
  if (namedKinds.has(type)) {
    if (into.has(json.name as string)) return into;
    into.set(json.name as string, json);
  }
  if (type === 'record' || type === 'error')
    for (const f of json.fields as { type: AvroJson }[]) namedTypes(f.type, into);
  if (type === 'array') namedTypes(json.items as AvroJson, into);
  if (type === 'map') namedTypes(json.values as AvroJson, into);
  return into;
}
