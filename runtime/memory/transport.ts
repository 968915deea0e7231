import { systemClock } from '../clock.js';
import { EndOfInput, NotConnected, type Source } from '../component.js';
import { ProcessorCore } from '../core/processor.js';
import { SinkCore, retryConnect, sleep } from '../core/sink.js';
import { TimerDriver, defaultTimerPollMs } from '../core/timer.js';
import { newStats, type ComponentStats } from '../core/stats.js';
import { toDeadLetter } from '../dlq.js';
import { OptiBidError } from '../errors.js';
import {
  componentContext,
  selected,
  silentLogger,
  yielder,
  type RunOptions,
  type RunningPipeline,
  type Transport,
} from '../pipeline.js';
import type { StreamRecord } from '../record.js';
import { dlqTopic, topologicalProcessors, type PipelineSpec, type SourceNode } from '../spec.js';
import { MemoryBroker, type MemoryRetention } from './broker.js';

/**
 * The in-process transport: every component of the pipeline runs as a cooperative task in this
 * process over a MemoryBroker. Deterministic for deterministic sources; the embedded default.
 */
export interface MemoryTransportOptions {
  broker?: MemoryBroker;
  retention?: MemoryRetention;
  /** How often (real ms) processor timers look at the injected clock (default 100). */
  timerPollMs?: number;
  /** An input partition silent for this long (clock ms) stops holding the watermark back (default: never). */
  idlePartitionMs?: number;
}

/** A pipeline running on the memory transport. */
export interface MemoryRunningPipeline extends RunningPipeline {
  /** Runs every processor's due timers now, upstream first (tests: advance a VirtualClock, then call this). */
  runTimers(): Promise<void>;
}

export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly broker: MemoryBroker;

  constructor(private readonly options: MemoryTransportOptions = {}) {
    this.broker = options.broker ?? new MemoryBroker(options.retention ?? 'all');
  }

  async start(spec: PipelineSpec, opts: RunOptions = {}): Promise<MemoryRunningPipeline> {
    const run = new MemoryRun(spec, this.broker, opts, this.options);
    await run.start();
    return run;
  }
}

/** Records available to `group` on `topics`, at most `max`, merged across partitions by event time. */
export function fetchMerged(broker: MemoryBroker, group: string, topics: string[], max: number): StreamRecord[] {
  const slices: StreamRecord[][] = [];
  for (const t of topics) {
    const n = broker.partitionCount(t);
    for (let p = 0; p < n; p++) {
      const pos = broker.position(group, t, p);
      if (broker.endOffset(t, p) > pos) slices.push(broker.read(t, p, pos, max));
    }
  }
  if (slices.length === 0) return [];
  if (slices.length === 1) return slices[0]!;
  const out: StreamRecord[] = [];
  const idx = slices.map(() => 0);
  while (out.length < max) {
    let best = -1;
    for (let s = 0; s < slices.length; s++) {
      const r = slices[s]![idx[s]!];
      if (r && (best < 0 || r.timestamp < slices[best]![idx[best]!]!.timestamp)) best = s;
    }
    if (best < 0) break;
    out.push(slices[best]![idx[best]!++]!);
  }
  return out;
}

/** Commits, per partition, the offset after the last record of `records` (scanning from the end). */
function commitConsumed(broker: MemoryBroker, group: string, records: StreamRecord[]): void {
  const done = new Set<string>();
  let lastTopic: string | undefined;
  let lastPartition: number | undefined;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.topic === lastTopic && r.partition === lastPartition) continue;
    lastTopic = r.topic;
    lastPartition = r.partition;
    const id = `${r.topic}/${r.partition}`;
    if (done.has(id)) continue;
    done.add(id);
    broker.commit(group, r.topic, r.partition ?? 0, Number(r.offset) + 1);
  }
}

class MemoryRun implements MemoryRunningPipeline {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;
  private readonly abort = new AbortController();
  private stopped = false;
  private active = 0;
  private sourcesRunning = 0;
  private readonly loops: Promise<void>[] = [];
  private readonly statsList: ComponentStats[] = [];
  private readonly lagOf = new Map<ComponentStats, () => number>();
  private readonly processors: ProcessorCore[] = [];
  private readonly timers: TimerDriver[] = [];
  private readonly sinks: SinkCore[] = [];
  private readonly sources: Array<{ node: SourceNode; source: Source; stats: ComponentStats }> = [];
  private readonly flushed = new Set<string>();
  private checkScheduled = false;
  private finishing = false;
  private readonly dlq: string;
  private readonly logger;
  private readonly clock;

  constructor(
    private readonly spec: PipelineSpec,
    private readonly broker: MemoryBroker,
    private readonly opts: RunOptions,
    private readonly transportOptions: MemoryTransportOptions = {},
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
    this.dlq = dlqTopic(spec.name);
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
  }

  private group(component: string): string {
    return `${this.spec.name}.${component}`;
  }

  async start(): Promise<void> {
    const { spec, broker, opts } = this;
    for (const t of spec.topics.values()) broker.createTopic(t.name, t.partitions);
    broker.createTopic(this.dlq, 1);
    const signal = this.abort.signal;
    const ctx = (name: string) => componentContext(name, opts, this.clock, signal);

    for (const node of spec.sources.filter((s) => selected(s.name, opts.only))) {
      const source = node.definition.create(node.config as never, ctx(node.name));
      this.sources.push({ node, source, stats: newStats(node.name, 'source') });
    }
    for (const node of topologicalProcessors(spec).filter((p) => selected(p.name, opts.only))) {
      broker.subscribe(this.group(node.name), node.inputs);
      const core = ProcessorCore.create(node, ctx(node.name), {
        dlqTopic: this.dlq,
        clock: this.clock,
        maxOutOfOrdernessMs: spec.settings.maxOutOfOrdernessMs,
        logger: this.logger,
        idlePartitionMs: this.transportOptions.idlePartitionMs,
      });
      // One task holds every partition of its inputs: tell it so before any batch or timer call.
      const partitions = Math.max(0, ...node.inputs.map((t) => broker.partitionCount(t)));
      core.setAssignment(Array.from({ length: partitions }, (_, i) => i));
      await core.exclusive(() => core.notifyAssigned());
      this.processors.push(core);
      this.timers.push(
        new TimerDriver(core, {
          clock: this.clock,
          pollMs: this.transportOptions.timerPollMs ?? defaultTimerPollMs,
          logger: this.logger,
          deliver: (result) => {
            if (this.stopped) return;
            this.broker.append(result.outputs);
            this.broker.append(result.deadLetters);
          },
        }),
      );
    }
    const sinkNodes = spec.sinks.filter((s) => selected(s.name, opts.only));
    for (const node of sinkNodes) {
      broker.subscribe(this.group(node.name), node.inputs);
      const sink = node.definition.create(node.config as never, ctx(node.name));
      this.sinks.push(new SinkCore(node.name, sink, { dlqTopic: this.dlq, logger: this.logger, signal }));
    }

    for (const s of this.sources) {
      this.statsList.push(s.stats);
      this.sourcesRunning++;
      this.spawn(() => this.sourceLoop(s.node, s.source, s.stats), s.stats);
    }
    for (const core of this.processors) {
      this.statsList.push(core.stats);
      this.lagOf.set(core.stats, () => broker.lag(this.group(core.node.name), core.node.inputs));
      this.spawn(() => this.processorLoop(core), core.stats);
    }
    sinkNodes.forEach((node, i) => {
      const core = this.sinks[i]!;
      this.statsList.push(core.stats);
      this.lagOf.set(core.stats, () => broker.lag(this.group(node.name), node.inputs));
      this.spawn(() => this.sinkLoop(core, node.inputs), core.stats);
    });
    for (const t of this.timers) t.start();
    if (this.loops.length === 0) this.scheduleCheck();
  }

  async runTimers(): Promise<void> {
    for (const t of this.timers) await t.check();
  }

  private spawn(loop: () => Promise<void>, stats: ComponentStats): void {
    this.active++;
    const p = loop().then(
      () => {
        if (stats.state === 'running' || stats.state === 'starting') stats.state = this.stopped ? 'stopped' : 'done';
      },
      (err) => {
        stats.state = 'failed';
        this.logger.error({ component: stats.name, err: (err as Error).message }, 'component failed');
        this.fail(err);
      },
    );
    this.loops.push(
      p.finally(() => {
        this.active--;
        this.scheduleCheck();
      }),
    );
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    void this.shutdown().then(() => this.rejectDone(err));
  }

  /** Waits for the next change on the broker; meanwhile this task counts as idle. */
  private async wait(): Promise<void> {
    const changed = this.broker.changed();
    this.active--;
    this.scheduleCheck();
    await changed;
    this.active++;
  }

  private blocked(outputs: string[]): boolean {
    const limit = this.spec.settings.maxInFlight;
    for (const t of outputs) if (this.broker.topicLag(t) >= limit) return true;
    return false;
  }

  private async sourceLoop(node: SourceNode, source: Source, stats: ComponentStats): Promise<void> {
    const signal = this.abort.signal;
    const outputs = new Set(node.outputs);
    const pause = yielder();
    try {
      await retryConnect(() => source.connect(), node.name, { logger: this.logger, signal });
      stats.state = 'running';
      while (!this.stopped) {
        if (this.blocked(node.outputs)) {
          await this.wait();
          continue;
        }
        let batch;
        try {
          batch = await source.read();
        } catch (err) {
          if (err instanceof EndOfInput) break;
          if (err instanceof NotConnected) {
            if (this.stopped) break;
            this.logger.warn({ component: node.name, err: err.message }, 'source not connected, reconnecting');
            await sleep(100, signal);
            await retryConnect(() => source.connect(), node.name, { logger: this.logger, signal });
            continue;
          }
          throw err;
        }
        const good = [];
        const dead = [];
        for (const rec of batch.records) {
          if (outputs.has(rec.topic)) good.push(rec);
          else {
            dead.push(
              toDeadLetter(
                this.dlq,
                rec,
                node.name,
                new OptiBidError(
                  'OPTIBID_ERR_CONFIG',
                  `source "${node.name}" wrote to topic "${rec.topic}", which is not among its outputs`,
                ),
              ),
            );
          }
        }
        this.broker.append(good);
        this.broker.append(dead);
        stats.recordsOut += good.length;
        stats.dlq += dead.length;
        stats.failed += dead.length;
        await batch.ack();
        await pause();
      }
    } finally {
      this.sourcesRunning--;
    }
  }

  private async processorLoop(core: ProcessorCore): Promise<void> {
    const group = this.group(core.node.name);
    const { inputs, outputs } = core.node;
    const batchSize = this.spec.settings.batchSize;
    const pause = yielder();
    core.stats.state = 'running';
    while (!this.stopped) {
      if (this.blocked(outputs)) {
        await this.wait();
        continue;
      }
      const records = fetchMerged(this.broker, group, inputs, batchSize);
      if (records.length === 0) {
        await this.wait();
        continue;
      }
      await core.exclusive(async () => {
        const result = await core.run(records);
        this.broker.append(result.outputs);
        this.broker.append(result.deadLetters);
        commitConsumed(this.broker, group, records);
      });
      await pause();
    }
  }

  private async sinkLoop(core: SinkCore, inputs: string[]): Promise<void> {
    const group = this.group(core.name);
    const batchSize = this.spec.settings.batchSize;
    const pause = yielder();
    await core.connect();
    core.stats.state = 'running';
    while (!this.stopped) {
      const records = fetchMerged(this.broker, group, inputs, batchSize);
      if (records.length === 0) {
        await this.wait();
        continue;
      }
      const dead = await core.write(records);
      this.broker.append(dead);
      commitConsumed(this.broker, group, records);
      await pause();
    }
  }

  /** Checks for quiescence after pending callbacks ran (a woken task may not have resumed yet). */
  private scheduleCheck(): void {
    if (this.checkScheduled || this.stopped) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      void this.checkIdle();
    });
  }

  private isQuiescent(): boolean {
    if (this.active > 0 || this.sourcesRunning > 0) return false;
    for (const lag of this.lagOf.values()) if (lag() > 0) return false;
    return true;
  }

  private async checkIdle(): Promise<void> {
    if (this.finishing || this.stopped || !this.isQuiescent()) return;
    // Every source has ended and everything is consumed: close the remaining windows, upstream first.
    for (const core of this.processors) {
      if (this.flushed.has(core.node.name)) continue;
      this.flushed.add(core.node.name);
      const result = await core.exclusive(() => core.flush(Infinity));
      if (result.outputs.length || result.deadLetters.length) {
        this.broker.append(result.outputs);
        this.broker.append(result.deadLetters);
        return; // downstream tasks wake up; the next quiescence flushes the next processor
      }
    }
    if (this.opts.untilIdle) {
      this.finishing = true;
      await this.shutdown();
      this.resolveDone();
    }
  }

  stats(): ComponentStats[] {
    for (const [s, lag] of this.lagOf) s.lag = lag();
    return this.statsList;
  }

  private async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.broker.notify();
    await Promise.allSettled([...this.loops, ...this.timers.map((t) => t.stop())]);
    const closes = [
      ...this.sources.map((s) => s.source.close()),
      ...this.processors.map((p) => p.close()),
      ...this.sinks.map((s) => s.close()),
    ];
    for (const r of await Promise.allSettled(closes)) {
      if (r.status === 'rejected') this.logger.warn({ err: (r.reason as Error).message }, 'close failed');
    }
    for (const s of this.statsList) if (s.state === 'running' || s.state === 'starting') s.state = 'stopped';
  }

  async stop(): Promise<void> {
    await this.shutdown();
    this.resolveDone();
  }
}
