import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import { systemClock, type Clock } from '../clock.js';
import type { Source } from '../component.js';
import { ProcessorCore, type BatchResult } from '../core/processor.js';
import { sleep } from '../core/sink.js';
import { TimerDriver, defaultTimerPollMs } from '../core/timer.js';
import { newStats } from '../core/stats.js';
import { endpointsFromEnv } from '../endpoints.js';
import { OptiBidError } from '../errors.js';
import { decodeBatch, encodeRecords, rawDeadLetters, type MaybeSyncSerde, type RawLookup } from '../kafka/codec.js';
import { createJsonSerde } from '../kafka/json-serde.js';
import { KafkaRunBase, type Task, type TaskContext } from '../kafka/run-base.js';
import { checkIntervalMs, sinkBatching } from '../kafka/sink-accumulator.js';
import { changelogTopic } from '../kafka/transport.js';
import { offsetResetDecision, parseLibrdkafkaOffsetReset } from '../kafka/offset-reset.js';
import { startStallChecks } from '../kafka/stall-watch.js';
import type { RunOptions, RunningPipeline, Transport } from '../pipeline.js';
import type { StreamRecord } from '../record.js';
import type { PipelineSpec, ProcessorNode, SinkNode, SourceNode } from '../spec.js';
import {
  call,
  codes,
  connect,
  consume,
  disconnect,
  gatherBatch,
  loadRdkafka,
  produceAll,
  type RdError,
  type RdKafka,
} from './client.js';
import { retryLogLevel, startPositions, waitingForOffsetsMessage } from './committed.js';
import { fencedCommitReason } from './fenced.js';

export interface RdkafkaTransportOptions {
  brokers?: string[];
  clientId?: string;
  /** Value serde (default JSON; the Avro serde with registry framing plugs in here). */
  serde?: MaybeSyncSerde;
  /** As for the kafkajs transport: names the transactional producers `<pipeline>.<component>.<instanceId>`. */
  instanceId?: string;
  /** Transaction timeout (ms): how long a crashed worker's open transaction can block read-committed readers. */
  transactionTimeoutMs?: number;
  /** How long (ms) nothing must arrive before `untilIdle` counts inputs as drained. */
  idleMs?: number;
  /** Most records per batch; a processor commits one transaction per batch (default 20 000). */
  maxBatchRecords?: number;
  /** A batch closes this long (ms) after its first record, full or not (default 25): bounds latency at steady rates. */
  maxBatchMs?: number;
  /** A batch also closes once no record arrived for this long (ms, default 5). */
  batchGapMs?: number;
  /** Most bytes fetched per partition at once (default 8 MiB). */
  maxBytesPerPartition?: number;
  /** Processor timers (`onTimer`) and idle-partition checks: real-ms poll of the injected clock (default 100). */
  timerPollMs?: number;
  /** An input partition silent for this long (clock ms) stops holding the watermark back (default: never). */
  idlePartitionMs?: number;
  /**
   * Processors' group membership (ms): session timeout (default 10 000; the broker's minimum is 6 000 unless
   * configured lower) and heartbeat interval (default 1000), as on the kafkajs transport. librdkafka heartbeats
   * from its own thread, so a processor stuck in one batch keeps its session.
   */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * librdkafka's `max.poll.interval.ms` for processors (default librdkafka's, 300 000; at least
   * `sessionTimeoutMs`): a processor that does not ask for records for this long (stuck in one batch) leaves
   * the group and loses its partitions; its transaction is then fenced at its offset commit and aborted. It is
   * also the rebalance timeout librdkafka sends when joining.
   */
  maxPollIntervalMs?: number;
  /**
   * As for the kafkajs transport: lag above 0 (partitions not at their end) with nothing consumed for this
   * long (wall-clock ms) logs a stall at warn (default 60 000; 0 turns the check off).
   */
  stallWarnMs?: number;
  /** Extra librdkafka properties for every client (e.g. `{ debug: 'eos' }`). */
  librdkafka?: Record<string, string | number | boolean>;
  /** Observability hook (benchmarks): after each processor transaction commits, with the input records it covered. */
  afterCommit?: (info: { component: string; records: readonly StreamRecord[] }) => void;
  /** Test hook: runs inside each processor transaction just before commit; throwing aborts it. */
  beforeCommit?: (info: {
    component: string;
    topic: string;
    partition: number;
    lastOffset: string;
  }) => Promise<void> | void;
}

/**
 * The rdkafka transport (node-rdkafka on librdkafka), with the kafkajs transport's semantics:
 * consume–transform–produce in transactions (outputs, dead letters, changelog records and consumed
 * offsets commit atomically; consumers read committed), keyed state restored from the compacted
 * changelog after every assignment, sinks committing offsets after a write. One transaction covers a
 * whole consumed batch, which may span several partitions.
 */
export class RdkafkaTransport implements Transport {
  readonly name = 'rdkafka';
  constructor(private readonly options: RdkafkaTransportOptions = {}) {}

  async start(spec: PipelineSpec, opts: RunOptions = {}): Promise<RunningPipeline> {
    const run = new RdkafkaRun(spec, this.options, opts, loadRdkafka());
    try {
      await run.start();
    } catch (err) {
      await run.stop().catch(() => {});
      throw err;
    }
    return run;
  }
}

/** Per-partition progress of a consumer: EOF flags and next offsets, for lag and `untilIdle`. */
export class Progress {
  assigned: RdKafka.TopicPartition[] = [];
  joined = false;
  /**
   * False from the moment a rebalance starts until its assignment is taken. In between, `assigned` is
   * empty or about to change, and "every assigned partition is at its end" says nothing.
   */
  private settled = false;
  lastActivity = Date.now();
  /** Partitions at their end: the offset the EOF was reported at (a later message clears it). */
  private readonly eof = new Map<string, number>();
  private readonly next = new Map<string, number>();

  constructor(private readonly consumer: () => RdKafka.KafkaConsumer) {}

  private resolveJoined!: () => void;
  private readonly joinedOnce = new Promise<void>((resolve) => (this.resolveJoined = resolve));

  /** Resolves once the first assignment arrived (or after `timeoutMs`: false). */
  async waitJoined(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([this.joinedOnce.then(() => true), timeout]);
    clearTimeout(timer);
    return ok;
  }

  assign(list: RdKafka.TopicPartition[]): void {
    this.assigned = list.map((p) => ({ topic: p.topic, partition: p.partition }));
    this.joined = true;
    this.settled = true;
    this.resolveJoined();
    this.eof.clear();
    this.next.clear();
  }

  /** A rebalance callback fired: not idle until the next assignment (even an empty one) is taken. */
  rebalancing(): void {
    this.settled = false;
  }

  /** The partitions were revoked; the assignment that follows settles it again. */
  revoke(): void {
    this.assigned = [];
    this.settled = false;
    this.eof.clear();
    this.next.clear();
  }

  atEof(topic: string, partition: number, offset: number): void {
    this.eof.set(`${topic}/${partition}`, offset);
    this.next.set(`${topic}/${partition}`, offset);
  }

  /** Records that a batch was consumed: per partition, its last message in offset order. */
  consumed(parts: Iterable<RdKafka.Message[]>): void {
    for (const list of parts) {
      const m = list[list.length - 1]!;
      const k = `${m.topic}/${m.partition}`;
      // EOF events of a consume call are emitted before its messages are handed over: keep one that came after.
      const at = this.eof.get(k);
      if (at !== undefined && m.offset >= at) this.eof.delete(k);
      this.next.set(k, m.offset + 1);
    }
    this.lastActivity = Date.now();
    this.onConsumed?.();
  }

  /** Called after every consumed batch (the stall check). */
  onConsumed?: () => void;

  /** The next offset this consumer fetches from a partition, once known (a batch or its end was seen). */
  position(topic: string, partition: number): number | undefined {
    return this.next.get(`${topic}/${partition}`);
  }

  /**
   * Per assigned partition with a known position: the position and the partition's last stable offset
   * (ListOffsets at the consumer's read-committed isolation), for the stall check.
   */
  async ends(): Promise<Array<{ topic: string; partition: number; position: number; end: number }>> {
    const out: Array<{ topic: string; partition: number; position: number; end: number }> = [];
    for (const { topic, partition } of this.assigned) {
      const position = this.position(topic, partition);
      if (position === undefined) continue;
      const w = await call<RdKafka.WatermarkOffsets>((cb) =>
        this.consumer().queryWatermarkOffsets(topic, partition, 5000, cb as never),
      );
      out.push({ topic, partition, position, end: w.highOffset });
    }
    return out;
  }

  lag(): number {
    let sum = 0;
    for (const { topic, partition } of this.assigned) {
      const k = `${topic}/${partition}`;
      if (this.eof.has(k)) continue;
      try {
        const { highOffset } = this.consumer().getWatermarkOffsets(topic, partition);
        const next = this.next.get(k);
        if (highOffset >= 0 && next !== undefined) sum += Math.max(0, highOffset - next);
      } catch {
        // watermarks not known yet
      }
    }
    return sum;
  }

  idle(now: number, idleMs: number): boolean {
    return (
      this.joined &&
      this.settled &&
      now - this.lastActivity > idleMs &&
      this.assigned.every((p) => this.eof.has(`${p.topic}/${p.partition}`))
    );
  }
}

/** A librdkafka log line (node-rdkafka 'event.log'). */
interface RdLog {
  severity: number;
  fac: string;
  message: string;
}

class RdkafkaRun extends KafkaRunBase {
  protected readonly serde: MaybeSyncSerde;
  private readonly base: Record<string, string | number | boolean>;

  constructor(
    spec: PipelineSpec,
    private readonly options: RdkafkaTransportOptions,
    opts: RunOptions,
    private readonly rd: typeof RdKafka,
  ) {
    super(spec, opts, options.instanceId);
    this.serde = options.serde ?? createJsonSerde();
    this.base = {
      'metadata.broker.list': (options.brokers ?? endpointsFromEnv(opts.env).kafkaBrokers).join(','),
      'client.id': options.clientId ?? `optibid-${spec.name}`,
      'socket.keepalive.enable': true,
      ...options.librdkafka,
    };
  }

  protected prepare(): Promise<void> {
    return this.ensureTopics();
  }

  /** Creates the pipeline's topics, the DLQ and the compacted changelogs; existing ones are left as they are. */
  private async ensureTopics(): Promise<void> {
    const wanted: RdKafka.NewTopic[] = [];
    for (const t of this.spec.topics.values())
      wanted.push({ topic: t.name, num_partitions: t.partitions, replication_factor: -1 });
    if (!this.spec.topics.has(this.dlq)) wanted.push({ topic: this.dlq, num_partitions: 1, replication_factor: -1 });
    for (const p of this.spec.processors) {
      wanted.push({
        topic: changelogTopic(this.spec.name, p.name),
        num_partitions: this.partitionsOf(p.inputs),
        replication_factor: -1,
        config: { 'cleanup.policy': 'compact' },
      });
    }
    const admin = this.rd.AdminClient.create({ ...this.base });
    try {
      for (const t of wanted) {
        await call((cb) => admin.createTopic(t, 30_000, cb)).catch((err: RdError) => {
          if (err.code !== codes.topicAlreadyExists)
            throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `creating topic ${t.topic}: ${err.message}`, { cause: err });
        });
      }
    } finally {
      admin.disconnect();
    }
  }

  /**
   * The stall check of one consumer (see kafka/stall-watch.ts): every few seconds, its lag from the broker
   * (each assigned partition's last stable offset minus the consumer's fetch position); a batch handed to
   * processing (or to the sink accumulator) counts as a fetch.
   */
  private watchStalls(component: string, progress: Progress): { stop(): void } {
    const checks = startStallChecks(
      { component, clock: systemClock, stallMs: this.options.stallWarnMs ?? 60_000, logger: this.logger },
      async () => {
        if (!progress.joined) return undefined;
        const behind = (await progress.ends()).filter((p) => p.end > p.position);
        return {
          lag: behind.reduce((n, p) => n + p.end - p.position, 0),
          partitions: behind.map((p) => ({ ...p, position: String(p.position), end: String(p.end) })),
        };
      },
    );
    progress.onConsumed = () => checks.fetched();
    return checks;
  }

  /**
   * librdkafka resets a partition's fetch position after OFFSET_OUT_OF_RANGE (records deleted by retention
   * or DeleteRecords, a truncated log) to `auto.offset.reset` (earliest) on its own — it commits nothing, so
   * committed progress stays — and reports it only as a log line. That line becomes a warn with the
   * partition's offsets and the records lost, as on the kafkajs transport.
   */
  private onLibrdkafkaLog(component: string, group: string, consumer: RdKafka.KafkaConsumer, log: RdLog): void {
    if (log.fac !== 'OFFSET' || log.severity > 4) return;
    const reset = parseLibrdkafkaOffsetReset(log.message);
    if (!reset) return;
    const { topic, partition, fetchOffset } = reset;
    const where = { component, group, topic, partition, fetchOffset, librdkafka: log.message };
    consumer.queryWatermarkOffsets(topic, partition, 5000, (err, w) => {
      if (err || !w) {
        this.logger.warn({ ...where, err: err?.message }, `offset reset on ${topic}[${partition}] from ${fetchOffset}`);
        return;
      }
      const d = offsetResetDecision(fetchOffset, String(w.lowOffset), String(w.highOffset));
      this.logger.warn(
        {
          ...where,
          logStartOffset: String(w.lowOffset),
          highOffset: String(w.highOffset),
          resetTo: String(w.lowOffset),
          lost: d.lost,
        },
        `offset reset on ${topic}[${partition}] from ${fetchOffset} to ${w.lowOffset}: ${d.reason}`,
      );
    });
  }

  private consumerConfig(group: string, extra: Record<string, unknown> = {}): RdKafka.ConsumerGlobalConfig {
    return {
      ...this.base,
      'group.id': group,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': 'read_committed',
      'enable.partition.eof': true,
      // As kafkajs assigns: round robin spreads a topic's partitions alternately over the members.
      'partition.assignment.strategy': 'roundrobin',
      'session.timeout.ms': 10_000,
      'heartbeat.interval.ms': 1000,
      'max.partition.fetch.bytes': this.options.maxBytesPerPartition ?? 8 * 1024 * 1024,
      'fetch.max.bytes': 64 * 1024 * 1024,
      'fetch.wait.max.ms': 100,
      'queued.min.messages': 200_000,
      'queued.max.messages.kbytes': 128 * 1024,
      ...extra,
    } as RdKafka.ConsumerGlobalConfig;
  }

  protected async startSource(node: SourceNode, ctx: TaskContext): Promise<Task> {
    const stats = newStats(node.name, 'source');
    const source: Source = node.definition.create(node.config as never, ctx);
    const producer = new this.rd.Producer({
      ...this.base,
      'enable.idempotence': true,
      dr_cb: true,
      partitioner: 'murmur2_random',
      'linger.ms': 5,
    } as RdKafka.ProducerGlobalConfig);
    await connect(producer);
    producer.setPollInterval(20);
    const delivery = deliveryTracker(producer);
    const loop = this.runSource(source, node, stats, (byTopic) => delivery.send(byTopic));
    return {
      stats,
      idle: () => stats.state === 'done',
      stop: async () => {
        await loop;
        await source.close().catch(() => {});
        await disconnect(producer);
      },
    };
  }

  protected async startProcessor(node: ProcessorNode, ctx: TaskContext, clock: Clock): Promise<Task> {
    const group = this.group(node.name);
    const changelog = changelogTopic(this.spec.name, node.name);
    const core = ProcessorCore.create(node, ctx, {
      dlqTopic: this.dlq,
      clock,
      maxOutOfOrdernessMs: this.spec.settings.maxOutOfOrdernessMs,
      trackChanges: true,
      logger: this.logger,
      idlePartitionMs: this.options.idlePartitionMs,
    });
    const producer = new this.rd.Producer({
      ...this.base,
      'transactional.id': `${group}.${this.instanceId}`,
      'enable.idempotence': true,
      'transaction.timeout.ms': this.options.transactionTimeoutMs ?? 10_000,
      partitioner: 'murmur2_random',
      'linger.ms': 5,
      'batch.num.messages': 10_000,
      'batch.size': 1024 * 1024,
      'queue.buffering.max.messages': 1_000_000,
      'queue.buffering.max.kbytes': 512 * 1024,
      dr_cb: false,
    } as RdKafka.ProducerGlobalConfig);
    await connect(producer);
    producer.setPollInterval(100);
    // Fences (and aborts) a crashed predecessor's open transaction under the same transactional id.
    await call((cb) => producer.initTransactions(30_000, cb));

    // Batches, rebalances and timer ticks never interleave.
    const exclusive = <T>(fn: () => Promise<T> | T) => core.exclusive(async () => fn());
    /** Input partitions whose state was read from the changelog since the last assignment (or abort). */
    const restored = new Set<number>();
    const progress = new Progress(() => consumer);
    const reset = () => {
      core.discardAll();
      restored.clear();
    };
    /** Bumped synchronously by every rebalance callback: a restore of an older assignment stops and keeps nothing. */
    let rebalances = 0;
    /**
     * Runs inside `exclusive`: reads the state of every assigned input partition from the changelog (one
     * reader), so the stores exist and timers run on them before any record arrives. A failed restore leaves
     * the lazy path (a partition's state is read before its first batch).
     */
    const restoreAssigned = async (notify: boolean) => {
      const gen = rebalances;
      const current = () => gen === rebalances && !stopping;
      const partitions = core.assignedPartitions ?? [];
      try {
        if ((await this.restoreState(core, changelog, group, partitions, current)) && current())
          for (const p of partitions) restored.add(p);
        else reset();
      } catch (err) {
        reset();
        this.logger.warn(
          { component: node.name, partitions, err: (err as Error).message },
          'restoring state at assignment failed; each partition is restored before its first batch',
        );
      }
      if (notify && current()) await core.notifyAssigned();
    };
    /**
     * Where each of `partitions` starts: the committed offsets, asked again while an open transaction holds
     * them (see committed.ts); undefined once `stillWanted()` turns false.
     */
    const positions = (partitions: Array<{ topic: string; partition: number }>, stillWanted: () => boolean) =>
      startPositions(
        (list, timeoutMs) =>
          new Promise((resolve, reject) =>
            consumer.committed(list, timeoutMs, (err, answers) =>
              err ? reject(err) : resolve(answers as Array<{ offset?: number } | Error>),
            ),
          ),
        partitions,
        {
          sleep: (ms) => sleep(ms, this.abort.signal),
          stillWanted: () => stillWanted() && !stopping && !this.abort.signal.aborted && consumer.isConnected(),
          // Info at first (an open transaction ends within its timeout); every 10th attempt at warn, as a lookup
          // failing that long is more likely a lasting error (authorisation, a missing topic).
          onRetry: ({ attempt, reason, partitions: waiting }) =>
            this.logger[retryLogLevel(attempt)](
              { component: node.name, group, partitions: waiting, attempt, reason },
              waitingForOffsetsMessage,
            ),
        },
      );
    /** Every assigned partition back to its committed offset. */
    const rewind = async () => {
      epoch++;
      const current = progress.assigned;
      if (!consumer.isConnected()) return;
      const seen = rebalances;
      const starts = await positions(current, () => rebalances === seen);
      if (!starts) return; // a rebalance came in between: its handler assigns
      consumer.unassign();
      if (starts.length) consumer.assign(starts);
    };
    // Bumped by every rebalance and rewind: a batch consumed across one is not processed but fetched again.
    let epoch = 0;
    const consumer: RdKafka.KafkaConsumer = new this.rd.KafkaConsumer(
      this.consumerConfig(group, {
        'session.timeout.ms': this.options.sessionTimeoutMs ?? 10_000,
        'heartbeat.interval.ms': this.options.heartbeatIntervalMs ?? 1000,
        ...(this.options.maxPollIntervalMs === undefined
          ? {}
          : { 'max.poll.interval.ms': this.options.maxPollIntervalMs }),
        rebalance_cb: (err: RdError, assignment: RdKafka.TopicPartition[]) => {
          rebalances++; // stops a restore in progress: its assignment is gone
          progress.rebalancing();
          // Never in the middle of a batch: state is dropped and re-read from the changelog at once, for every
          // assigned partition, before the next batch or timer tick.
          void exclusive(async () => {
            epoch++;
            reset();
            if (err.code === codes.assignPartitions) {
              this.logger.info({ component: node.name, assignment }, 'partitions assigned');
              progress.assign(assignment);
              // Explicit start offsets: librdkafka's own lookup would send a partition whose offsets an open
              // transaction holds to the log start (committed.ts). librdkafka waits for this assign call.
              const seen = rebalances;
              consumer.assign((await positions(assignment, () => rebalances === seen)) ?? []);
              core.setAssignment(assignment.filter((p) => node.inputs.includes(p.topic)).map((p) => p.partition));
              await restoreAssigned(true);
            } else {
              this.logger.info({ component: node.name, revoked: assignment }, 'partitions revoked');
              progress.revoke();
              core.setAssignment([]);
              if (consumer.isConnected()) consumer.unassign();
            }
          }).catch((e: Error) =>
            this.logger.warn({ component: node.name, err: e.message }, 'rebalance handling failed'),
          );
        },
      }),
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('partition.eof', (e) => progress.atEof(e.topic, e.partition, e.offset));
    consumer.on('event.log', (log: RdLog) => this.onLibrdkafkaLog(node.name, group, consumer, log));
    await connect(consumer);
    consumer.subscribe(node.inputs);
    // Started means a member of the group with its partitions (the first consume call joins it).
    const joined = progress.waitJoined(60_000);
    const stalls = this.watchStalls(node.name, progress);

    let stopping = false;
    const gather = {
      maxRecords: this.options.maxBatchRecords ?? 20_000,
      maxMs: this.options.maxBatchMs ?? 25,
      gapMs: this.options.batchGapMs,
      idleWaitMs: 100,
    };
    const processBatch = async (messages: RdKafka.Message[]) => {
      const parts = byPartition(messages);
      progress.consumed(parts.values());
      const todo = [...new Set(messages.map((m) => m.partition))].filter((p) => !restored.has(p));
      if (todo.length) {
        // Fallback: the restore at assignment failed or was superseded.
        if (!(await this.restoreState(core, changelog, group, todo, () => !stopping)))
          throw new Error(`stopped while restoring ${changelog} [${todo.join(', ')}]`);
        for (const p of todo) restored.add(p);
      }
      const records: StreamRecord[] = [];
      const decodeDead: Message[] = [];
      const raws = new Map<string, RawLookup>();
      for (const [k, list] of parts) {
        const first = list[0]!;
        const decoded = await decodeBatch(first.topic, first.partition, list, this.serde, this.dlq, node.name);
        for (const r of decoded.records) records.push(r);
        for (const d of decoded.deadLetters) decodeDead.push(d);
        raws.set(k, decoded.raw);
      }
      const result = await core.run(records);
      const { byTopic, failed } = await encodeRecords(result.outputs, this.serde, this.dlq, node.name);
      const dead = [...decodeDead];
      for (const d of result.deadLetters) {
        const raw = raws.get(`${d.headers?.['source-topic']}\u0000${d.headers?.['source-partition']}`);
        dead.push(...rawDeadLetters([d], raw ?? new Map()));
      }
      if (dead.length) byTopic.set(this.dlq, [...(byTopic.get(this.dlq) ?? []), ...dead]);
      const changes = changelogMessages(result.changes);
      if (changes.length) byTopic.set(changelog, changes);
      const offsets = [...parts.values()].map((list) => {
        const last = list[list.length - 1]!;
        return { topic: last.topic, partition: last.partition, offset: last.offset + 1 };
      });
      try {
        await call((cb) => producer.beginTransaction(cb));
        await produceAll(producer, byTopic);
        // Outputs reach the broker while the offsets are added (commit would flush them anyway).
        await Promise.all([
          call((cb) => producer.flush(30_000, cb)),
          call((cb) => producer.sendOffsetsToTransaction(offsets, consumer, 30_000, cb)),
        ]);
        for (const list of parts.values()) {
          const last = list[list.length - 1]!;
          await this.options.beforeCommit?.({
            component: node.name,
            topic: last.topic,
            partition: last.partition,
            lastOffset: String(last.offset),
          });
        }
        await call((cb) => producer.commitTransaction(30_000, cb));
        core.committed();
      } catch (err) {
        const e = err as RdError;
        const fenced = e.isFatal ? undefined : fencedCommitReason(e);
        if (fenced)
          // This member lost its partitions while processing (it did not poll within max.poll.interval.ms, or
          // its session expired): the member now owning them processes the batch. Nothing of this transaction
          // becomes visible. librdkafka rejoins on the next consume call; the rebalance callback then assigns
          // from the committed offsets and restores state.
          this.logger.warn(
            { component: node.name, group, partitions: offsets, reason: fenced, code: e.code, err: e.message },
            'offset commit fenced: this member lost the partition; transaction aborted, rejoining',
          );
        else
          this.logger.warn(
            { component: node.name, err: e.message, code: e.code, fatal: e.isFatal },
            'transaction aborted; the batch will be consumed again',
          );
        await call((cb) => producer.abortTransaction(30_000, cb)).catch(() => {});
        // Rebuild state from the changelog (every assigned partition, so timers keep theirs); the loop reads
        // the batch again from the committed offsets. A fenced member's partitions are gone: the assignment
        // that follows its rejoin restores what it gets.
        reset();
        epoch++;
        if (e.isFatal) throw err;
        if (!fenced) await restoreAssigned(false);
        return;
      }
      this.options.afterCommit?.({ component: node.name, records });
      core.stats.dlq += decodeDead.length + failed;
      core.stats.failed += decodeDead.length + failed;
    };

    // The next batch is fetched while the current one is processed and committed (librdkafka consumes on
    // its own threads). After a rebalance or an aborted transaction (both bump `epoch`) what was fetched
    // in between is dropped and the partitions are re-assigned, i.e. read again from the committed
    // offsets, with no consume call in flight (so the re-read itself is never dropped).
    let pending: { epoch: number; batch: Promise<RdKafka.Message[]> } | undefined;
    const fetchNext = () => (pending = { epoch, batch: gatherBatch(consumer, gather) });
    const resync = async () => {
      await pending?.batch.catch(() => {});
      await exclusive(() => rewind());
      fetchNext();
    };
    const loop = (async () => {
      fetchNext();
      while (!stopping) {
        const { epoch: consumedIn, batch } = pending!;
        let messages: RdKafka.Message[];
        try {
          messages = await batch;
        } catch (err) {
          if (stopping) break;
          this.logger.warn({ component: node.name, err: (err as Error).message }, 'consume failed, retrying');
          await sleep(100, this.abort.signal);
          fetchNext();
          continue;
        }
        if (stopping) break; // not committed: read again by whoever gets these partitions
        if (consumedIn !== epoch) {
          this.logger.info(
            { component: node.name, records: messages.length },
            'batch fetched across a rebalance or abort, reading it again',
          );
          await resync();
          continue;
        }
        fetchNext();
        if (messages.length) await exclusive(() => (consumedIn === epoch ? processBatch(messages) : undefined));
        if (pending!.epoch !== epoch) await resync();
      }
    })().catch((err) => this.fail(core.stats, err));
    // Timers (onTimer, idle partitions): what a tick produces commits in its own transaction.
    const timers = new TimerDriver(core, {
      clock,
      pollMs: this.options.timerPollMs ?? defaultTimerPollMs,
      logger: this.logger,
      deliver: async (result) => {
        const { byTopic } = await encodeRecords(result.outputs, this.serde, this.dlq, node.name);
        const changes = changelogMessages(result.changes);
        if (changes.length) byTopic.set(changelog, changes);
        try {
          await call((cb) => producer.beginTransaction(cb));
          await produceAll(producer, byTopic);
          await call((cb) => producer.commitTransaction(30_000, cb));
          core.committed();
        } catch (err) {
          await call((cb) => producer.abortTransaction(30_000, cb)).catch(() => {});
          reset();
          await restoreAssigned(false);
          throw err;
        }
      },
    });
    timers.start();
    if (!(await joined))
      this.logger.warn({ component: node.name, group }, 'no partitions assigned within 60 s; going on');
    core.stats.state = 'running';
    return {
      stats: Object.defineProperty(core.stats, 'lag', { get: () => progress.lag(), set: () => {}, configurable: true }),
      idle: (now) => progress.idle(now, this.options.idleMs ?? 1500),
      stop: async () => {
        stopping = true;
        stalls.stop();
        await timers.stop();
        await loop;
        await pending?.batch.catch(() => {});
        await disconnect(consumer);
        await disconnect(producer);
        await core.close();
        core.stats.state = 'stopped';
      },
    };
  }

  /**
   * Loads the keyed state of input `partitions` from the changelog (read committed, each up to its end) in
   * one reader assigned exactly those partitions, and installs it in the core (a partition with an empty
   * changelog gets no store). Stops early, installing nothing and returning false, once `current()` turns
   * false (a newer assignment, or stopping).
   */
  private async restoreState(
    core: ProcessorCore,
    changelog: string,
    group: string,
    partitions: readonly number[],
    current: () => boolean,
  ): Promise<boolean> {
    if (partitions.length === 0) return true;
    const started = Date.now();
    const reader = new this.rd.KafkaConsumer(this.consumerConfig(`${group}.restore.${randomUUID()}`), {
      'auto.offset.reset': 'earliest',
    });
    const states = new Map<number, Map<string, unknown>>();
    let entries = 0;
    try {
      await connect(reader);
      const pending = new Set<number>();
      for (const p of partitions) {
        const w = await call<RdKafka.WatermarkOffsets>((cb) => reader.queryWatermarkOffsets(changelog, p, 10_000, cb));
        if (w.highOffset > w.lowOffset) pending.add(p);
      }
      for (const p of partitions) if (!pending.has(p)) core.dropPartition(p, []);
      if (pending.size === 0) return true;
      for (const p of pending) states.set(p, new Map());
      reader.on('partition.eof', (e) => pending.delete(e.partition));
      reader.setDefaultConsumeTimeout(100);
      reader.assign([...pending].map((partition) => ({ topic: changelog, partition, offset: codes.offsetBeginning })));
      const deadline = Date.now() + 60_000;
      while (pending.size) {
        if (!current()) return false;
        if (Date.now() > deadline)
          throw new OptiBidError(
            'OPTIBID_ERR_TIMEOUT',
            `restoring ${changelog} [${[...pending].join(', ')}] took over 60 s`,
          );
        for (const m of await consume(reader, 10_000)) {
          if (m.key === null || m.key === undefined) continue;
          const state = states.get(m.partition);
          if (!state) continue;
          const key = typeof m.key === 'string' ? m.key : m.key.toString('utf8');
          if (m.value === null) state.delete(key);
          else state.set(key, JSON.parse(m.value.toString('utf8')));
          entries++;
        }
      }
    } finally {
      await disconnect(reader);
    }
    if (!current()) return false;
    for (const [p, state] of states) core.restorePartition(p, state);
    this.logger.info(
      { component: core.node.name, partitions: [...states.keys()], entries, ms: Date.now() - started },
      'state restored from changelog',
    );
    return true;
  }

  protected async startSink(node: SinkNode, ctx: TaskContext): Promise<Task> {
    const group = this.group(node.name);
    const sink = await this.connectSink(node, ctx);
    const producer = new this.rd.Producer({ ...this.base, 'enable.idempotence': true, dr_cb: true, 'linger.ms': 5 });
    await connect(producer);
    producer.setPollInterval(20);
    const delivery = deliveryTracker(producer);
    const progress = new Progress(() => consumer);
    const failed = (err: unknown) => {
      if (stopping) this.logger.warn({ component: node.name, err: (err as Error).message }, 'sink write stopped');
      else this.fail(sink.stats, err);
    };
    const batching = sinkBatching(node);
    const acc = this.sinkAccumulator(
      node,
      sink,
      (dead) => delivery.send(new Map([[this.dlq, dead]])),
      async (offsets) => {
        // Only partitions still assigned (a revoked one is read again by its new owner from its last commit).
        const held = new Set(progress.assigned.map((p) => `${p.topic}/${p.partition}`));
        const mine = offsets
          .filter((o) => held.has(`${o.topic}/${o.partition}`))
          .map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }));
        if (mine.length && consumer.isConnected()) consumer.commit(mine);
      },
    );
    const consumer: RdKafka.KafkaConsumer = new this.rd.KafkaConsumer(
      this.consumerConfig(group, {
        rebalance_cb: (err: RdError, assignment: RdKafka.TopicPartition[]) => {
          // Buffered records were never committed: whoever gets their partitions reads them again.
          acc.discard();
          if (err.code === codes.assignPartitions) {
            this.logger.info({ component: node.name, assignment }, 'partitions assigned');
            progress.assign(assignment);
            consumer.assign(assignment);
          } else {
            this.logger.info({ component: node.name, revoked: assignment }, 'partitions revoked');
            progress.revoke();
            if (consumer.isConnected()) consumer.unassign();
          }
        },
        offset_commit_cb: (err: RdError | null) => {
          if (err && err.code)
            this.logger.warn(
              { component: node.name, err: err.message },
              'offset commit failed (records will be written again)',
            );
        },
      }),
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('partition.eof', (e) => progress.atEof(e.topic, e.partition, e.offset));
    consumer.on('event.log', (log: RdLog) => this.onLibrdkafkaLog(node.name, group, consumer, log));
    await connect(consumer);
    consumer.subscribe(node.inputs);
    const joined = progress.waitJoined(60_000);
    const stalls = this.watchStalls(node.name, progress);
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        let messages: RdKafka.Message[];
        try {
          messages = await gatherBatch(consumer, {
            maxRecords: this.options.maxBatchRecords ?? 5000,
            maxMs: this.options.maxBatchMs ?? 25,
            gapMs: this.options.batchGapMs,
            idleWaitMs: 100,
          });
        } catch (err) {
          if (stopping) break;
          this.logger.warn({ component: node.name, err: (err as Error).message }, 'consume failed, retrying');
          await sleep(100, this.abort.signal);
          continue;
        }
        if (messages.length === 0) continue;
        const parts = byPartition(messages);
        progress.consumed(parts.values());
        for (const list of parts.values()) {
          const first = list[0]!;
          const last = list[list.length - 1]!;
          const decoded = await decodeBatch(first.topic, first.partition, list, this.serde, this.dlq, node.name);
          await acc.add({
            topic: first.topic,
            partition: first.partition,
            records: decoded.records,
            deadLetters: decoded.deadLetters,
            raw: decoded.raw,
            nextOffset: String(last.offset + 1),
          });
        }
      }
    })().catch(failed);
    const ticker =
      batching.maxWaitMs > 0 ? setInterval(() => void acc.check().catch(failed), checkIntervalMs(batching)) : undefined;
    if (!(await joined))
      this.logger.warn({ component: node.name, group }, 'no partitions assigned within 60 s; going on');
    sink.stats.state = 'running';
    return {
      stats: Object.defineProperty(sink.stats, 'lag', {
        get: () => progress.lag() + acc.buffered,
        set: () => {},
        configurable: true,
      }),
      idle: (now) => acc.idle && progress.idle(now, this.options.idleMs ?? 1500),
      stop: async () => {
        stopping = true;
        stalls.stop();
        if (ticker) clearInterval(ticker);
        await loop;
        await this.flushSink(node, acc);
        await disconnect(consumer);
        await disconnect(producer);
        await sink.close();
        sink.stats.state = 'stopped';
      },
    };
  }
}

/** Messages of one batch per partition (`topic\u0000partition`), each list in offset order. */
function byPartition(messages: RdKafka.Message[]): Map<string, RdKafka.Message[]> {
  const parts = new Map<string, RdKafka.Message[]>();
  let lastTopic: string | undefined;
  let lastPartition = -1;
  let list: RdKafka.Message[] = [];
  for (const m of messages) {
    if (m.partition !== lastPartition || m.topic !== lastTopic) {
      lastTopic = m.topic;
      lastPartition = m.partition;
      const k = `${m.topic}\u0000${m.partition}`;
      const known = parts.get(k);
      if (known) list = known;
      else parts.set(k, (list = []));
    }
    list.push(m);
  }
  return parts;
}

/** State changes as changelog messages (JSON values, null tombstones), to the input partition's changelog partition. */
function changelogMessages(changes: BatchResult['changes']): Message[] {
  const out: Message[] = [];
  for (const { partition, changes: list } of changes) {
    for (const c of list)
      out.push({ key: c.key, value: c.value === undefined ? null : JSON.stringify(c.value), partition });
  }
  return out;
}

/**
 * Sends batches through a non-transactional idempotent producer and resolves once librdkafka reported
 * every message delivered (rejects with the first delivery error).
 */
function deliveryTracker(producer: RdKafka.Producer): { send(byTopic: Map<string, Message[]>): Promise<void> } {
  let pending = 0;
  let firstError: Error | undefined;
  let wake: (() => void) | undefined;
  producer.on('delivery-report', (err) => {
    pending--;
    if (err && !firstError)
      firstError = new OptiBidError('OPTIBID_ERR_UPSTREAM', `delivery failed: ${err.message}`, { cause: err });
    if (pending <= 0) wake?.();
  });
  return {
    async send(byTopic) {
      const n = [...byTopic.values()].reduce((a, l) => a + l.length, 0);
      if (n === 0) return;
      pending += n;
      await produceAll(producer, byTopic);
      producer.flush(30_000, () => {});
      if (pending > 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (firstError) {
        const err = firstError;
        firstError = undefined;
        throw err;
      }
    },
  };
}
