import type { Static, TSchema } from '@sinclair/typebox';
import type { Clock } from './clock.js';
import type { OutRecord, StreamRecord } from './record.js';

export type ComponentKind = 'source' | 'processor' | 'sink';
export type ComponentStatus = 'stable' | 'beta' | 'experimental';

/** The logging surface components use (a subset of pino's). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** What every component gets when it is created. */
export interface ComponentContext {
  /** The component's name in its pipeline (unique per pipeline). */
  name: string;
  clock: Clock;
  logger: Logger;
  /** Environment for `${ENV}` values and secrets (default: process.env). */
  env: NodeJS.ProcessEnv;
  /** Aborted when the pipeline shuts down. */
  signal: AbortSignal;
}

/** Thrown by `Source.read` when the source has nothing more to give (a file fully replayed, a backfill done). */
export class EndOfInput extends Error {
  constructor() {
    super('end of input');
    this.name = 'EndOfInput';
  }
}

/** Thrown by `read`/`write` when the component lost its connection; the runtime reconnects with backoff. */
export class NotConnected extends Error {
  constructor(message = 'not connected', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotConnected';
  }
}

/** A batch read from a source; `ack` is called once the records are durably handed on (or with the error that stopped them). */
export interface SourceBatch {
  records: OutRecord[];
  ack(err?: Error): Promise<void>;
}

/**
 * A source of records. Lifecycle: `connect` (retried with backoff by the runtime) → `read` repeatedly →
 * `close`. `read` resolves with the next batch, throws `EndOfInput` when done, `NotConnected` to reconnect.
 */
export interface Source {
  connect(): Promise<void>;
  read(): Promise<SourceBatch>;
  close(): Promise<void>;
}

/** Keyed state of a processor, scoped to the current record's key partition; changelogged by the runtime. */
export interface KeyValueStore<V = unknown> {
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  delete(key: string): void;
  entries(): IterableIterator<[string, V]>;
}

/** What a processor may do while handling a record or a watermark. */
export interface ProcessContext {
  /** Sends a record downstream. Without `topic`, to the processor's default output. */
  emit(record: Omit<OutRecord, 'topic'> & { topic?: string }): void;
  /** The processor's keyed state. */
  state: KeyValueStore;
  clock: Clock;
  /** The current event-time watermark (ms), -Infinity before the first record. */
  watermark: number;
  /**
   * The input partitions the task running this processor holds right now (ascending), updated at every
   * (re)assignment on the Kafka transports; on the memory transport one task holds every partition of its
   * inputs from the start. Undefined before the first assignment. Read-only: e.g. run key-less calendar
   * rules only on the worker holding partition 0.
   */
  readonly assignedPartitions?: readonly number[];
  /**
   * Asks for `onWatermark` on this context once the watermark reaches `eventTime` (e.g. when a window it
   * opened closes). Heeded only for a processor with `watermarkRequests` (see there); optional, so a
   * processor must work without it (other callers may call `onWatermark` at every advance). Call it on the
   * context (`ctx.requestWatermark(t)`), not detached.
   */
  requestWatermark?(eventTime: number): void;
}

/**
 * A processor: stateless (map, filter, flatMap, branch) or stateful (windows, joins) through `ctx.state`.
 * `process` handles one input record; `onWatermark` is called when event time advances (to close windows).
 * Throwing sends the record to the dead-letter topic with the error as reason; the pipeline keeps going.
 * A call that throws (from `process`, `onWatermark` or `onTimer`) leaves no trace: what it emitted is
 * dropped and its `state.put`/`state.delete` calls are rolled back (objects mutated in place are not).
 */
export interface Processor {
  process(record: StreamRecord, ctx: ProcessContext): void | Promise<void>;
  onWatermark?(watermark: number, ctx: ProcessContext): void | Promise<void>;
  /**
   * Opt-in for processors that know when their state next has something to do in event time: `onWatermark`
   * then runs on a context only once the watermark reaches the earliest time asked for there with
   * `ctx.requestWatermark(t)` (from `process`, `onWatermark` or `onTimer`) since that context's previous
   * `onWatermark`, instead of at every advance. Each `onWatermark` call clears the context's requests, so it
   * asks again for whatever is still open. Also called: after the context's state was restored (the first
   * advance after), at the end of input (`+Infinity`), and again at the next advance after a call that threw.
   * A request at or below the current watermark is answered at the next advance. Skipping the calls that
   * would find nothing due is what this saves (the watermark can advance on every record).
   */
  watermarkRequests?: boolean;
  /**
   * Wall-clock punctuation: called on the injected clock every `timerIntervalMs`, whether or not input
   * arrives (absence alerts, deadlines, calendar rules). `now` is `ctx.clock.now()`. Called once per input
   * partition whose state this task holds: on the Kafka transports that is every assigned partition with
   * state in its changelog (restored as soon as the partition is assigned, before any record arrives) and
   * every partition a record came from since. With no such partition, once with an empty context whose
   * state writes are not kept. Missed intervals are not replayed: after a long pause it runs once.
   */
  onTimer?(now: number, ctx: ProcessContext): void | Promise<void>;
  /** How often `onTimer` runs, in ms of the injected clock (default 1000). */
  timerIntervalMs?: number;
  /**
   * Called after every (re)assignment of the task's input partitions, with the input partitions it now
   * holds (ascending, possibly none), once their state is restored and before any batch or timer call on
   * the new assignment. The memory transport calls it once at start with every partition of the inputs.
   * A throw is logged and counted as failed.
   */
  onAssign?(partitions: readonly number[]): void | Promise<void>;
  close?(): Promise<void>;
}

/**
 * A sink. `write` resolves only once the batch is durably stored (offsets are committed after it);
 * writes are idempotent on the record's natural key so replays never duplicate. Throwing `NotConnected`
 * pauses consumption and retries; any other error sends the batch's records to the dead-letter topic.
 */
export interface Sink {
  connect(): Promise<void>;
  write(records: StreamRecord[]): Promise<void>;
  close(): Promise<void>;
}

interface DefinitionBase<S extends TSchema> {
  name: string;
  status: ComponentStatus;
  /** One line: what it does, for `optibid connector list` and generated docs. */
  summary: string;
  /** TypeBox schema of the config: the TS type, runtime validation and docs. */
  config: S;
}

export interface SourceDefinition<S extends TSchema = TSchema> extends DefinitionBase<S> {
  kind: 'source';
  /** Topics it writes (Avro value schemas must exist for them). */
  outputs: string[];
  create(config: Static<S>, ctx: ComponentContext): Source;
}

export interface ProcessorDefinition<S extends TSchema = TSchema> extends DefinitionBase<S> {
  kind: 'processor';
  create(config: Static<S>, ctx: ComponentContext): Processor;
  /**
   * Optional projection: the top-level fields of its input values the processor (with this config) reads,
   * or undefined when it may read any (e.g. it forwards whole values). A transport may then decode only
   * these fields (the Kafka transport's lean path with an Avro serde builds records with just them; the
   * other fields are still checked, so a malformed record still goes to the dead-letter topic with its
   * original bytes). A processor must not depend on the other fields being absent: transports without
   * projection hand over whole values.
   */
  valueFields?(config: Static<S>): readonly string[] | undefined;
}

/**
 * How the Kafka transports batch records for a sink's `write`: fetched records accumulate until
 * `maxRecords` or until the oldest waited `maxWaitMs` (wall clock), then go to one `write`, and their
 * offsets are committed after it resolves. Without it, each fetched batch is written as it comes.
 */
export interface SinkBatching {
  /** Most records one `write` gets; a full buffer is written at once. */
  maxRecords: number;
  /** Most time (ms) a fetched record waits for the buffer to fill before a partial batch is written (0: never waits). */
  maxWaitMs: number;
}

export interface SinkDefinition<S extends TSchema = TSchema> extends DefinitionBase<S> {
  kind: 'sink';
  create(config: Static<S>, ctx: ComponentContext): Sink;
  /** The batches this sink prefers under backlog, from its config (e.g. large ones for a columnar store). */
  batching?(config: Static<S>): SinkBatching;
}

export type ComponentDefinition = SourceDefinition | ProcessorDefinition | SinkDefinition;

/** Defines a source; the config type flows from the schema into `create`. */
export function defineSource<S extends TSchema>(def: Omit<SourceDefinition<S>, 'kind'>): SourceDefinition<S> {
  return { ...def, kind: 'source' };
}

/** Defines a processor; the config type flows from the schema into `create`. */
export function defineProcessor<S extends TSchema>(def: Omit<ProcessorDefinition<S>, 'kind'>): ProcessorDefinition<S> {
  return { ...def, kind: 'processor' };
}

/** Defines a sink; the config type flows from the schema into `create`. */
export function defineSink<S extends TSchema>(def: Omit<SinkDefinition<S>, 'kind'>): SinkDefinition<S> {
  return { ...def, kind: 'sink' };
}
