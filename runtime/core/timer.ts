import type { Clock } from '../clock.js';
import type { Logger } from '../component.js';
import { hasOutput, type BatchResult, type ProcessorCore } from './processor.js';

export interface TimerDriverOptions {
  clock: Clock;
  /** How often (real ms) the injected clock is looked at; a VirtualClock moves only when told, so this is a poll. */
  pollMs: number;
  /** Hands on what a tick produced (memory: append; Kafka: one transaction). Runs inside `core.exclusive`. */
  deliver(result: BatchResult): Promise<void> | void;
  logger?: Logger;
}

/** Default real-time poll of the injected clock for processor timers (ms). */
export const defaultTimerPollMs = 100;

/**
 * Drives `ProcessorCore.tick` from the injected clock, like Kafka Streams' wall-clock punctuators:
 * every `pollMs` of real time it reads `clock.now()` and, serialised with the batches through
 * `core.exclusive`, lets the core run due timers and idle-partition checks, then delivers the result.
 * Works the same with the system clock and a VirtualClock (tests advance it and wait for the output).
 */
export class TimerDriver {
  private handle: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly core: ProcessorCore,
    private readonly opts: TimerDriverOptions,
  ) {}

  /** Starts polling (no-op for a processor without timers or idle detection). */
  start(): void {
    if (!this.core.needsTicks || this.handle) return;
    this.handle = setInterval(() => {
      if (!this.running) this.running = this.check().finally(() => (this.running = undefined));
    }, this.opts.pollMs);
    this.handle.unref?.();
  }

  /** Runs due timers now (also what each poll does). Errors of `deliver` are logged, not thrown. */
  async check(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.core.exclusive(async () => {
        if (this.stopped) return;
        const result = await this.core.tick(this.opts.clock.now());
        if (hasOutput(result)) await this.opts.deliver(result);
      });
    } catch (err) {
      this.opts.logger?.error({ component: this.core.node.name, err: (err as Error).message }, 'timer tick failed');
    }
  }

  /** Stops polling and waits for a tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.handle) clearInterval(this.handle);
    this.handle = undefined;
    await this.running;
  }
}
