import type { Clock } from './clock.js';
import type { ComponentContext, Logger } from './component.js';
import type { ComponentStats } from './core/stats.js';
import type { PipelineSpec } from './spec.js';

/** How to run a pipeline, whatever the transport. */
export interface RunOptions {
  clock?: Clock;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Stop once every input is drained (sources ended, consumer lag 0), flushing windows first. */
  untilIdle?: boolean;
  /** Run only these components (scale-out: each process runs some, sharing partitions through consumer groups). */
  only?: string[];
}

/** A started pipeline. */
export interface RunningPipeline {
  /** Live counters per component (refreshed when read). */
  stats(): ComponentStats[];
  /** Resolves when the run ends: idle with `untilIdle`, or after `stop()`. Rejects on a fatal error. */
  readonly done: Promise<void>;
  /** Graceful stop: finishes the in-flight batch, commits, closes every component. */
  stop(): Promise<void>;
}

/** Moves records between components: `memory` (in-process), `kafka` (kafkajs), `rdkafka`. */
export interface Transport {
  readonly name: string;
  start(spec: PipelineSpec, opts?: RunOptions): Promise<RunningPipeline>;
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The context a component is created with. */
export function componentContext(name: string, opts: RunOptions, clock: Clock, signal: AbortSignal): ComponentContext {
  const base = opts.logger ?? silentLogger;
  const logger: Logger =
    'child' in base && typeof (base as { child?: unknown }).child === 'function'
      ? (base as unknown as { child(b: object): Logger }).child({ component: name })
      : base;
  return { name, clock, logger, env: opts.env ?? process.env, signal };
}

/** Whether a component takes part in a run restricted to `only`. */
export function selected(name: string, only?: string[]): boolean {
  return !only || only.length === 0 || only.includes(name);
}

/** Lets timers and I/O run during long synchronous stretches (microtask chains starve them otherwise). */
export function yielder(everyMs = 20): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < everyMs) return undefined;
    last = now;
    return new Promise((resolve) => setImmediate(resolve));
  };
}
