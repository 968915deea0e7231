import { OptiBidError } from '@optibid/runtime';
import { subjectSchemas } from '@optibid/schemas';
import { TOPICS, type NormalizedRecord } from './records.js';

type AvroType = string | { type: string; logicalType?: string; symbols?: string[] } | AvroType[];
interface AvroField {
  name: string;
  type: AvroType;
  default?: unknown;
}

/** Topics the generic sources (replay, declarative http) may write. */
export const shapeableTopics = [TOPICS.prices, TOPICS.fundamentals, TOPICS.telemetry] as const;
export type ShapeableTopic = (typeof shapeableTopics)[number];

function fieldsOf(topic: string): AvroField[] {
  const schema = subjectSchemas[`${topic}-value`] as { fields: AvroField[] } | undefined;
  if (!schema || !(shapeableTopics as readonly string[]).includes(topic)) {
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `topic "${topic}" is not one a source can write (${shapeableTopics.join(', ')})`,
    );
  }
  return schema.fields;
}

function coerce(type: AvroType, v: unknown, what: string): unknown {
  if (Array.isArray(type)) {
    if (v === null || v === undefined) {
      if (type.includes('null')) return null;
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} is missing`);
    }
    const nonNull = type.filter((t) => t !== 'null');
    return coerce(nonNull[0], v, what);
  }
  if (v === null || v === undefined) throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} is missing`);
  const t = typeof type === 'string' ? type : type.type;
  const logical = typeof type === 'object' && !Array.isArray(type) ? type.logicalType : undefined;
  if (t === 'enum') {
    const symbols = (type as { symbols: string[] }).symbols;
    const s = String(v).toUpperCase();
    if (!symbols.includes(s))
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} ${JSON.stringify(v)} is not one of ${symbols.join(', ')}`);
    return s;
  }
  if (t === 'string') {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} ${JSON.stringify(v)} is not text`);
  }
  if (t === 'long' && logical === 'timestamp-millis') {
    if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v);
    if (typeof v === 'string') {
      const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v.replace(/(\.\d{3})\d+(Z|[+-])/, '$1$2'));
      if (!Number.isNaN(ms)) return ms;
    }
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} ${JSON.stringify(v)} is not a timestamp (ISO 8601 or ms)`);
  }
  if (t === 'double' || t === 'float' || t === 'int' || t === 'long') {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n))
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} ${JSON.stringify(v)} is not a finite number`);
    if ((t === 'int' || t === 'long') && !Number.isInteger(n))
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${what} ${n} is not an integer`);
    return n;
  }
  if (t === 'boolean') return Boolean(v);
  return v;
}

/**
 * Shapes a plain object into a record of `topic`: every field of the topic's Avro value schema, in
 * schema order, with values coerced to the field type (numbers from text, timestamps from ISO text,
 * enum symbols upper-cased); a missing field takes its schema default, else is an error. Fields the
 * schema does not know are an error too (typos would otherwise vanish silently).
 */
export function shapeRecord(topic: string, obj: Record<string, unknown>, where: string): NormalizedRecord {
  const fields = fieldsOf(topic);
  const known = new Set(fields.map((f) => f.name));
  const extra = Object.keys(obj).filter((k) => !known.has(k) && obj[k] !== undefined);
  if (extra.length)
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `${where}: field(s) ${extra.join(', ')} are not in the ${topic} schema (${[...known].join(', ')})`,
    );
  const value: Record<string, unknown> = {};
  for (const f of fields) {
    const v = obj[f.name];
    if ((v === undefined || v === '') && f.default !== undefined) value[f.name] = f.default;
    else {
      try {
        value[f.name] = coerce(f.type, v === '' ? null : v, `${where}: ${f.name}`);
      } catch (err) {
        throw err instanceof OptiBidError
          ? new OptiBidError('OPTIBID_ERR_DECODE', err.message, { context: { file: where } })
          : err;
      }
    }
  }
  return { topic, value } as unknown as NormalizedRecord;
}

/** The Avro field names of a topic's value schema, in order. */
export function fieldNames(topic: string): string[] {
  return fieldsOf(topic).map((f) => f.name);
}
