import { systemClock, type Clock } from '../clock.js';
import type { Logger, Source } from '../component.js';
import { SinkCore } from '../core/sink.js';
import type { ComponentStats } from '../core/stats.js';
import { componentContext, selected, silentLogger, type RunOptions, type RunningPipeline } from '../pipeline.js';
import { dlqTopic, type PipelineSpec, type ProcessorNode, type SinkNode, type SourceNode } from '../spec.js';
import type { Message } from 'kafkajs';
import { SinkAccumulator, batchDeadLetters, sinkBatching, type CommitOffset } from './sink-accumulator.js';
import type { MaybeSyncSerde } from './codec.js';
import { runSourceLoop, type SourceLoopContext } from './source-loop.js';

/** One running component of a Kafka pipeline run. */
export interface Task {
  stats: ComponentStats;
  stop(): Promise<void>;
  /** True when this task has nothing left to do for `untilIdle`. */
  idle(now: number): boolean;
}

export type TaskContext = ReturnType<typeof componentContext>;

/**
 * The lifecycle both Kafka transports (kafkajs and rdkafka) share: start every selected component,
 * stop when idle (`untilIdle`), and on the first component failure stop the others and reject `done`.
 * Subclasses bring the broker clients: `prepare` (topics, admin connection), the three `start*`
 * methods and `closeClients`.
 */
export abstract class KafkaRunBase implements RunningPipeline {
  readonly done: Promise<void>;
  protected readonly logger: Logger;
  protected readonly abort = new AbortController();
  protected readonly tasks: Task[] = [];
  protected stopped = false;
  protected readonly dlq: string;
  protected abstract readonly serde: MaybeSyncSerde;
  protected readonly instanceId: string;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly spec: PipelineSpec,
    protected readonly opts: RunOptions,
    instanceId: string | undefined,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
    this.logger = opts.logger ?? silentLogger;
    this.dlq = dlqTopic(spec.name);
    this.instanceId = instanceId ?? 'default';
  }

  protected abstract prepare(): Promise<void>;
  protected abstract startSource(node: SourceNode, ctx: TaskContext): Promise<Task>;
  protected abstract startProcessor(node: ProcessorNode, ctx: TaskContext, clock: Clock): Promise<Task>;
  protected abstract startSink(node: SinkNode, ctx: TaskContext): Promise<Task>;
  /** Releases clients the run holds besides its tasks' own (e.g. the admin client). */
  protected async closeClients(): Promise<void> {}

  /** A sink wrapped with dead-lettering and reconnects, connected (retried with back-off). */
  protected async connectSink(node: SinkNode, ctx: TaskContext): Promise<SinkCore> {
    const sink = new SinkCore(node.name, node.definition.create(node.config as never, ctx), {
      dlqTopic: this.dlq,
      logger: this.logger,
      signal: this.abort.signal,
    });
    await sink.connect();
    return sink;
  }

  /**
   * The accumulator both transports put in front of a sink: the sink's declared batch bounds on the wall
   * clock (it bounds latency; a component's injected clock may be virtual and would hold records forever),
   * one write in flight while the next batch fills, and offsets committed only after that write resolved.
   * A write stores the batch, then sends the dead letters of the records the sink rejected or that failed
   * to decode through `sendDeadLetters` (the transport's own producer).
   */
  protected sinkAccumulator(
    node: SinkNode,
    sink: SinkCore,
    sendDeadLetters: (dead: Message[]) => Promise<void>,
    commit: (offsets: CommitOffset[]) => Promise<void>,
  ): SinkAccumulator {
    return new SinkAccumulator({
      ...sinkBatching(node),
      clock: systemClock,
      write: async (batch) => {
        const dead = batchDeadLetters(batch, await sink.write(batch.records));
        if (dead.length) await sendDeadLetters(dead);
        sink.stats.dlq += batch.deadLetters.length;
      },
      commit,
    });
  }

  /** Runs a source's loop with this run's serde, dead-letter topic, logger and stop signals; a failure fails the run. */
  protected runSource(
    source: Source,
    node: SourceNode,
    stats: ComponentStats,
    send: SourceLoopContext['send'],
  ): Promise<void> {
    return runSourceLoop(source, node, stats, {
      serde: this.serde,
      dlqTopic: this.dlq,
      logger: this.logger,
      signal: this.abort.signal,
      stopped: () => this.stopped,
      send,
    }).catch((err) => this.fail(stats, err));
  }

  /** Stores and commits what a sink's accumulator still holds before the member leaves its group (else it is read again later). */
  protected async flushSink(node: SinkNode, acc: SinkAccumulator): Promise<void> {
    await acc
      .close()
      .catch((err: Error) =>
        this.logger.warn(
          { component: node.name, err: err.message },
          'final sink write failed; its records will be read again',
        ),
      );
  }

  /** The consumer group of a component. */
  protected group(component: string): string {
    return `${this.spec.name}.${component}`;
  }

  protected partitionsOf(topics: string[]): number {
    return Math.max(1, ...topics.map((t) => this.spec.topics.get(t)?.partitions ?? 1));
  }

  async start(): Promise<void> {
    await this.prepare();
    const { spec, opts } = this;
    const clock = opts.clock ?? systemClock;
    const ctx = (name: string) => componentContext(name, opts, clock, this.abort.signal);
    for (const node of spec.sources.filter((s) => selected(s.name, opts.only)))
      this.tasks.push(await this.startSource(node, ctx(node.name)));
    for (const node of spec.processors.filter((p) => selected(p.name, opts.only)))
      this.tasks.push(await this.startProcessor(node, ctx(node.name), clock));
    for (const node of spec.sinks.filter((s) => selected(s.name, opts.only)))
      this.tasks.push(await this.startSink(node, ctx(node.name)));
    if (opts.untilIdle) {
      this.idleTimer = setInterval(() => {
        const now = Date.now();
        if (this.tasks.every((t) => t.idle(now))) void this.stop();
      }, 250);
    }
  }

  /** Marks a component failed; the first failure stops the run and rejects `done`. */
  protected fail(stats: ComponentStats, err: unknown): void {
    stats.state = 'failed';
    this.logger.error({ component: stats.name, err: (err as Error)?.message }, 'component failed');
    if (this.stopped) return;
    void this.shutdown().then(() => this.rejectDone(err));
  }

  stats(): ComponentStats[] {
    return this.tasks.map((t) => t.stats);
  }

  private async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.abort.abort();
    for (const r of await Promise.allSettled(this.tasks.map((t) => t.stop()))) {
      if (r.status === 'rejected') this.logger.warn({ err: (r.reason as Error).message }, 'stop failed');
    }
    await this.closeClients().catch(() => {});
  }

  async stop(): Promise<void> {
    await this.shutdown();
    this.resolveDone();
  }
}
