import avro from 'avsc';
import { OptiBidError, isOptiBidError } from '../errors.js';
import { HttpRegistryClient, RegistryHttpError, type SchemaLookup } from './registry-client.js';
import type { RecordOrigin, Serde } from './serde.js';
import {
  CompiledReadError,
  compileReader,
  compileWriter,
  WRITE_FALLBACK,
  WRITE_INVALID,
  type CompiledReader,
  type CompiledWriter,
} from './codegen.js';

/** First byte of every Confluent-framed record. */
export const MAGIC_BYTE = 0;
/** Magic byte + 4-byte big-endian schema id. */
export const HEADER_BYTES = 5;
/** Size of the buffers records are encoded into (each record is a view of one). */
const slabBytes = 64 * 1024;

export interface AvroSerdeOptions {
  /** Registry base URL (e.g. endpointsFromEnv().registryUrl) or a client with the same two calls. */
  registry: string | SchemaLookup;
  /**
   * Avro schemas by registry subject (`<topic>-value`), e.g. `subjectSchemas` from @optibid/schemas.
   * A topic without an exact entry uses the longest known topic that prefixes it followed by `.`, `-`
   * or `_` (so `market.prices.run42` is written with the `market.prices` schema).
   */
  schemas?: Readonly<Record<string, object>>;
  /** Overrides the schema lookup above; return undefined when the topic has none. */
  schemaFor?: (topic: string) => object | undefined;
  /** Subject of a topic (default: TopicNameStrategy, `<topic>-value`, or `<topic>-key` with `isKey`). */
  subjectFor?: (topic: string) => string;
  isKey?: boolean;
  /** Register the schema when serializing (default true); false only looks its id up. */
  autoRegister?: boolean;
  /**
   * Use the generated encoders/decoders of codegen.ts (default true; same bytes and values as avsc,
   * faster). false runs everything through avsc.
   */
  compiled?: boolean;
}

interface WriterEntry {
  id: number;
  type: avro.Type;
  /** Generated encoder (codegen.ts); undefined when the schema needs avsc. */
  codec?: CompiledWriter;
}

interface ReaderEntry {
  type: avro.Type;
  resolver?: avro.Resolver;
  /** Generated decoder for this writer/reader pair (codegen.ts); undefined when the pair needs avsc. */
  compiled?: CompiledReader;
  /** The writer type (the key of the projected decoders). */
  writer: avro.Type;
  /** The last projection decoded with and its decoder (null: avsc, then the fields picked). */
  lastFields?: readonly string[];
  lastProjected?: CompiledReader | null;
}

/** Compiled codecs per avsc type (writer) and per writer/reader pair, shared by every AvroSerde. */
const compiledWriters = new WeakMap<avro.Type, CompiledWriter | null>();
const compiledReaders = new WeakMap<avro.Type, WeakMap<avro.Type, CompiledReader | null>>();

function writerFor(type: avro.Type): CompiledWriter | undefined {
  let c = compiledWriters.get(type);
  if (c === undefined) compiledWriters.set(type, (c = compileWriter(type) ?? null));
  return c ?? undefined;
}

function readerFor(writer: avro.Type, reader: avro.Type): CompiledReader | undefined {
  let byReader = compiledReaders.get(writer);
  if (!byReader) compiledReaders.set(writer, (byReader = new WeakMap()));
  let c = byReader.get(reader);
  if (c === undefined) byReader.set(reader, (c = compileReader(writer, reader) ?? null));
  return c ?? undefined;
}

/** Projected decoders per writer/reader pair and field list (joined with NUL), shared by every AvroSerde. */
const projectedReaders = new WeakMap<avro.Type, WeakMap<avro.Type, Map<string, CompiledReader | null>>>();

function projectedReaderFor(writer: avro.Type, reader: avro.Type, fields: readonly string[]): CompiledReader | null {
  let byReader = projectedReaders.get(writer);
  if (!byReader) projectedReaders.set(writer, (byReader = new WeakMap()));
  let byFields = byReader.get(reader);
  if (!byFields) byReader.set(reader, (byFields = new Map()));
  const key = fields.join('\u0000');
  let c = byFields.get(key);
  if (c === undefined) byFields.set(key, (c = compileReader(writer, reader, fields) ?? null));
  return c;
}

/** The projection of a value decoded whole (avsc path): a plain object with `fields` in reader field order. */
function pickFields(value: unknown, type: avro.Type, fields: readonly string[]): unknown {
  const recordFields = (type as avro.Type & { fields?: Array<{ name: string }> }).fields;
  if (recordFields === undefined || value === null || typeof value !== 'object') return value;
  const wanted = new Set(fields);
  const out: Record<string, unknown> = {};
  for (const f of recordFields) if (wanted.has(f.name)) out[f.name] = (value as Record<string, unknown>)[f.name];
  return out;
}

/**
 * Avro with Confluent framing: magic byte 0, the schema's 4-byte big-endian registry id, then the
 * Avro binary body. Byte-identical to `@confluentinc/schemaregistry`'s AvroSerializer (tested).
 *
 * Schemas are cached per topic (serialize) and per id (deserialize), so after the first record of a
 * topic and the first record of each writer schema no call reaches the registry. Records are decoded
 * into the local schema of the topic when there is one (Avro schema resolution: new readers see
 * defaults for fields old writers lacked), else into the writer's schema.
 */
export class AvroSerde implements Serde {
  private readonly lookup: SchemaLookup;
  private readonly writers = new Map<string, Promise<WriterEntry>>();
  /** The last writer and reader looked up (a batch is usually one topic and one schema id). */
  private lastWriter: { topic: string; entry: WriterEntry } | undefined;
  private lastReader: { id: number; topic: string; entry: ReaderEntry } | undefined;
  /** Resolved writers and readers: the steady state runs synchronously from these (no awaits). */
  private readonly readyWriters = new Map<string, WriterEntry>();
  private readonly readyReaders = new Map<number, Map<string, ReaderEntry>>();
  private readonly byId = new Map<number, Promise<avro.Type>>();
  private readonly readers = new Map<string, ReaderEntry>();
  private readonly localTypes = new Map<string, avro.Type | null>();
  private slab = Buffer.allocUnsafeSlow(slabBytes);
  private slabPos = 0;

  constructor(private readonly opts: AvroSerdeOptions) {
    this.lookup = typeof opts.registry === 'string' ? new HttpRegistryClient(opts.registry) : opts.registry;
  }

  /** The subject a topic's records are registered under. */
  subject(topic: string): string {
    return this.opts.subjectFor?.(topic) ?? `${topic}-${this.opts.isKey ? 'key' : 'value'}`;
  }

  /** The local schema for a topic, if any. */
  schemaOf(topic: string): object | undefined {
    if (this.opts.schemaFor) return this.opts.schemaFor(topic);
    const schemas = this.opts.schemas ?? {};
    const suffix = this.opts.isKey ? '-key' : '-value';
    const exact = schemas[`${topic}${suffix}`];
    if (exact) return exact;
    let best: string | undefined;
    for (const subject of Object.keys(schemas)) {
      if (!subject.endsWith(suffix)) continue;
      const base = subject.slice(0, -suffix.length);
      if (
        topic.length > base.length &&
        topic.startsWith(base) &&
        '.-_'.includes(topic[base.length]!) &&
        (!best || base.length > best.length)
      )
        best = base;
    }
    return best ? schemas[`${best}${suffix}`] : undefined;
  }

  private localType(topic: string): avro.Type | undefined {
    let t = this.localTypes.get(topic);
    if (t === undefined) {
      const schema = this.schemaOf(topic);
      t = schema ? avro.Type.forSchema(schema as avro.Schema, { registry: {} }) : null;
      this.localTypes.set(topic, t);
    }
    return t ?? undefined;
  }

  private readyWriter(topic: string): WriterEntry | undefined {
    const last = this.lastWriter;
    if (last !== undefined && last.topic === topic) return last.entry;
    const entry = this.readyWriters.get(topic);
    if (entry) this.lastWriter = { topic, entry };
    return entry;
  }

  private readyReader(id: number, topic: string): ReaderEntry | undefined {
    const last = this.lastReader;
    if (last !== undefined && last.id === id && last.topic === topic) return last.entry;
    const entry = this.readyReaders.get(id)?.get(topic);
    if (entry) this.lastReader = { id, topic, entry };
    return entry;
  }

  private writer(topic: string): Promise<WriterEntry> {
    let entry = this.writers.get(topic);
    if (!entry) {
      entry = (async () => {
        const type = this.localType(topic);
        if (!type) {
          throw new OptiBidError(
            'OPTIBID_ERR_CONFIG',
            `no Avro schema for topic ${topic} (subject ${this.subject(topic)}); add schemas/avro/${this.subject(topic)}.avsc or pass schemaFor`,
            {
              context: { topic },
            },
          );
        }
        const schema = { schemaType: 'AVRO', schema: JSON.stringify(this.schemaOf(topic)) };
        const subject = this.subject(topic);
        const id =
          this.opts.autoRegister === false && this.lookup instanceof HttpRegistryClient
            ? await this.lookup.lookup(subject, schema)
            : await this.lookup.register(subject, schema);
        const ready: WriterEntry = { id, type, codec: this.opts.compiled === false ? undefined : writerFor(type) };
        this.readyWriters.set(topic, ready);
        return ready;
      })();
      entry.catch(() => this.writers.delete(topic));
      this.writers.set(topic, entry);
    }
    return entry;
  }

  serialize(topic: string, value: unknown): Promise<Buffer> {
    const ready = this.readyWriter(topic);
    if (ready) {
      try {
        return Promise.resolve(this.encode(topic, ready, value));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.writer(topic).then((entry) => this.encode(topic, entry, value));
  }

  private encode(topic: string, entry: WriterEntry, value: unknown): Buffer {
    const codec = entry.codec;
    if (codec) {
      // Generated encoder: validates while writing into the slab; the header goes in front afterwards.
      for (let attempt = 0; attempt < 2; attempt++) {
        const slab = this.slab;
        const start = this.slabPos;
        const end = codec.write(value, slab, start + HEADER_BYTES);
        if (end >= 0) {
          const id = entry.id;
          slab[start] = MAGIC_BYTE;
          slab[start + 1] = id >>> 24;
          slab[start + 2] = id >>> 16;
          slab[start + 3] = id >>> 8;
          slab[start + 4] = id;
          this.slabPos = (end + 7) & ~7;
          return slab.subarray(start, end);
        }
        if (end === WRITE_INVALID) throw this.invalid(topic, entry, value);
        if (end === WRITE_FALLBACK) break; // avsc below writes it byte-identically
        // WRITE_OVERFLOW: a fresh slab with room for the largest this value can be.
        this.slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, HEADER_BYTES + 8 + codec.maxSize(value)));
        this.slabPos = 0;
      }
    }
    return this.encodeAvsc(topic, entry, value);
  }

  private invalid(topic: string, { id, type }: WriterEntry, value: unknown): OptiBidError {
    const problems: string[] = [];
    type.isValid(value, {
      errorHook: (path, v) => problems.push(`${path.join('.') || '(value)'} = ${describeValue(v)}`),
    });
    return new OptiBidError(
      'OPTIBID_ERR_RECORD',
      `record for topic ${topic} does not match schema ${this.subject(topic)} (id ${id}): ${problems.join('; ')}`,
      {
        context: { topic, schemaId: id },
      },
    );
  }

  private encodeAvsc(topic: string, entry: WriterEntry, value: unknown): Buffer {
    const { id, type } = entry;
    if (!type.isValid(value)) throw this.invalid(topic, entry, value);
    // Encode straight into a shared slab and hand out views of it (as Buffer.allocUnsafe does with
    // its pool): no copy per record. A record that does not fit starts a new slab.
    for (;;) {
      const slab = this.slab;
      const start = this.slabPos;
      if (slab.length - start > HEADER_BYTES) {
        slab[start] = MAGIC_BYTE;
        slab.writeInt32BE(id, start + 1);
        const end = type.encode(value, slab, start + HEADER_BYTES);
        if (end >= 0) {
          this.slabPos = (end + 7) & ~7;
          return slab.subarray(start, end);
        }
        this.slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, 2 * (slab.length - start - end)));
      } else this.slab = Buffer.allocUnsafeSlow(slabBytes);
      this.slabPos = 0;
    }
  }

  /**
   * The warm path without a promise: the framed bytes, or undefined when the topic's schema id is not
   * cached yet (then use `serialize`). Throws like `serialize` rejects.
   */
  serializeSync(topic: string, value: unknown): Buffer | undefined {
    const ready = this.readyWriter(topic);
    return ready ? this.encode(topic, ready, value) : undefined;
  }

  /**
   * The warm path without a promise: `{ value }`, or undefined when the writer schema of `bytes` is not
   * cached yet for this topic (then use `deserialize`). Throws like `deserialize` rejects.
   */
  deserializeSync(bytes: Buffer, origin: RecordOrigin): { value: unknown } | undefined {
    const value = this.deserializeRangeSync(bytes, 0, bytes.length, origin);
    return value === undefined ? undefined : { value };
  }

  /**
   * `deserializeSync` of `buf[start, end)` without a view per record: the value, or undefined when the writer
   * schema is not cached yet for this topic. Throws like `deserialize` rejects. With `fields` a record value
   * is built with only those top-level fields (reader field order); the other fields are still checked, so
   * exactly the records a whole decode refuses are refused, with the same error. Pass the same array for
   * every record of a projection (its reader is cached by the array's identity, compiled once per field list).
   */
  deserializeRangeSync(
    buf: Buffer,
    start: number,
    end: number,
    origin: RecordOrigin,
    fields?: readonly string[],
  ): unknown {
    const id = frameSchemaId(buf, start, end, origin);
    if (id === undefined) return null;
    const ready = this.readyReader(id, origin.topic);
    if (!ready) return undefined;
    if (fields !== undefined) return this.decodeProjected(buf, start, end, id, ready, origin, fields);
    // Only the generated reader reads up to a given end; avsc's decoder gets a view.
    return ready.compiled
      ? this.decodeCompiled(buf, start, end, id, ready.compiled, origin)
      : this.decode(buf.subarray(start, end), id, ready, origin);
  }

  /**
   * A projected decode (see `deserializeRangeSync`): the generated reader that builds only `fields` (the
   * others checked as a full read checks them: same errors), or avsc's whole value with `fields` picked.
   * The projection's reader is looked up once per change of `fields` (an array identity check per record).
   */
  private decodeProjected(
    buf: Buffer,
    start: number,
    end: number,
    id: number,
    ready: ReaderEntry,
    origin: RecordOrigin,
    fields: readonly string[],
  ): unknown {
    let reader = ready.lastProjected;
    if (ready.lastFields !== fields || reader === undefined) {
      reader = ready.compiled ? projectedReaderFor(ready.writer, ready.type, fields) : null;
      ready.lastFields = fields;
      ready.lastProjected = reader;
    }
    if (reader !== null) return this.decodeCompiled(buf, start, end, id, reader, origin);
    return pickFields(this.decode(buf.subarray(start, end), id, ready, origin), ready.type, fields);
  }

  private writerById(id: number, origin: RecordOrigin): Promise<avro.Type> {
    let t = this.byId.get(id);
    if (!t) {
      t = (async () => {
        try {
          const info = await this.lookup.getBySubjectAndId(origin.topic ? this.subject(origin.topic) : undefined, id);
          if (info.schemaType && info.schemaType !== 'AVRO')
            throw decodeError(origin, `schema id ${id} is a ${info.schemaType} schema, not Avro`, id);
          return avro.Type.forSchema(JSON.parse(info.schema) as avro.Schema, { registry: {} });
        } catch (err) {
          if (isOptiBidError(err, 'OPTIBID_ERR_DECODE')) throw err;
          const notFound =
            (err instanceof RegistryHttpError && err.status === 404) || /40403|not found/i.test((err as Error).message);
          if (notFound) throw decodeError(origin, `unknown schema id ${id}: the registry has no such schema`, id, err);
          throw err; // network and registry outages stay retriable, the record is not at fault
        }
      })();
      t.catch(() => this.byId.delete(id));
      this.byId.set(id, t);
    }
    return t;
  }

  private async reader(id: number, origin: RecordOrigin): Promise<ReaderEntry> {
    const cacheKey = `${id}\u0000${origin.topic}`;
    const cached = this.readers.get(cacheKey);
    if (cached) return cached;
    const writer = await this.writerById(id, origin);
    const local = origin.topic ? this.localType(origin.topic) : undefined;
    let entry: ReaderEntry;
    const compiled = this.opts.compiled !== false;
    if (!local || local.equals(writer))
      entry = { type: writer, writer, compiled: compiled ? readerFor(writer, writer) : undefined };
    else {
      try {
        entry = {
          type: local,
          writer,
          resolver: local.createResolver(writer),
          compiled: compiled ? readerFor(writer, local) : undefined,
        };
      } catch (err) {
        throw decodeError(
          origin,
          `writer schema ${id} cannot be read with the local schema of ${origin.topic}: ${(err as Error).message}`,
          id,
          err,
        );
      }
    }
    this.readers.set(cacheKey, entry);
    let perTopic = this.readyReaders.get(id);
    if (!perTopic) this.readyReaders.set(id, (perTopic = new Map()));
    perTopic.set(origin.topic, entry);
    return entry;
  }

  /** Returns null for an empty payload (as the Confluent deserializer does); throws OPTIBID_ERR_DECODE on bad bytes. */
  deserialize(bytes: Buffer, origin: RecordOrigin): Promise<unknown> {
    try {
      const id = frameSchemaId(bytes, 0, bytes.length, origin);
      if (id === undefined) return Promise.resolve(null);
      const ready = this.readyReader(id, origin.topic);
      if (ready) return Promise.resolve(this.decode(bytes, id, ready, origin));
      return this.reader(id, origin).then((entry) => this.decode(bytes, id, entry, origin));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The generated reader over `buf[start, end)` (a framed record: header, then the Avro body). */
  private decodeCompiled(
    buf: Buffer,
    start: number,
    end: number,
    id: number,
    compiled: NonNullable<ReaderEntry['compiled']>,
    origin: RecordOrigin,
  ): unknown {
    let value: unknown;
    try {
      value = compiled.read(buf, start + HEADER_BYTES, end);
    } catch (err) {
      if (err instanceof CompiledReadError && err.truncated)
        throw decodeError(
          origin,
          `truncated Avro body for schema id ${id}: ${end - start - HEADER_BYTES} body bytes are not a whole record`,
          id,
        );
      throw decodeError(origin, `corrupt Avro body for schema id ${id}: ${(err as Error).message}`, id, err);
    }
    const stop = compiled.end();
    if (stop !== end)
      throw decodeError(
        origin,
        `trailing bytes after the Avro body for schema id ${id}: ${end - stop} of ${end - start}`,
        id,
      );
    return value;
  }

  private decode(bytes: Buffer, id: number, { type, resolver, compiled }: ReaderEntry, origin: RecordOrigin): unknown {
    if (compiled) return this.decodeCompiled(bytes, 0, bytes.length, id, compiled, origin);
    let decoded: { value: unknown; offset: number };
    try {
      decoded = type.decode(bytes, HEADER_BYTES, resolver);
    } catch (err) {
      throw decodeError(origin, `corrupt Avro body for schema id ${id}: ${(err as Error).message}`, id, err);
    }
    if (decoded.offset < 0)
      throw decodeError(
        origin,
        `truncated Avro body for schema id ${id}: ${bytes.length - HEADER_BYTES} body bytes are not a whole record`,
        id,
      );
    if (decoded.offset !== bytes.length) {
      throw decodeError(
        origin,
        `trailing bytes after the Avro body for schema id ${id}: ${bytes.length - decoded.offset} of ${bytes.length}`,
        id,
      );
    }
    return decoded.value;
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

/**
 * The schema id of a Confluent-framed record `buf[start, end)`, or undefined for an empty payload (a null
 * value, as the Confluent deserializer reads it). Throws OPTIBID_ERR_DECODE for a wrong magic byte or a
 * record shorter than the header.
 */
function frameSchemaId(buf: Buffer, start: number, end: number, origin: RecordOrigin): number | undefined {
  const length = end - start;
  if (length === 0) return undefined;
  if (buf[start] !== MAGIC_BYTE)
    throw decodeError(origin, `wrong magic byte ${buf[start]} (expected 0): not a Confluent-framed Avro record`);
  if (length < HEADER_BYTES)
    throw decodeError(origin, `truncated record: ${length} bytes, shorter than the 5-byte header`);
  return buf.readInt32BE(start + 1);
}

/** OPTIBID_ERR_DECODE naming topic, partition and offset. */
export function decodeError(origin: RecordOrigin, reason: string, schemaId?: number, cause?: unknown): OptiBidError {
  const where = `topic ${origin.topic}${origin.partition !== undefined ? ` partition ${origin.partition}` : ''}${origin.offset !== undefined ? ` offset ${origin.offset}` : ''}`;
  return new OptiBidError('OPTIBID_ERR_DECODE', `cannot decode record at ${where}: ${reason}`, {
    cause,
    context: {
      topic: origin.topic,
      partition: origin.partition,
      offset: origin.offset,
      ...(schemaId !== undefined ? { schemaId } : {}),
    },
  });
}

/** An Avro serde with Confluent framing (see AvroSerde). */
export function createAvroSerde(opts: AvroSerdeOptions): AvroSerde {
  return new AvroSerde(opts);
}
