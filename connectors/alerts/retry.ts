import { NotConnected } from '@optibid/runtime';

/** Waits `ms`; injected so tests run retries without waiting in real time. */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Real waiting that stops at shutdown: rejects with `NotConnected` when `signal` aborts, so the batch is retried after a restart. */
export function abortableSleep(signal: AbortSignal): Sleep {
  return (ms) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new NotConnected('shutting down'));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new NotConnected('shutting down'));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Uniform random in [0, 1) (injected for reproducible tests). */
  random: () => number;
}

/**
 * Exponential backoff with "equal jitter": attempt n (1-based, after the n-th failure) waits
 * between half and all of min(maxMs, baseMs · 2^(n-1)); never zero, never in lockstep with other senders.
 */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + o.random() * (ceiling / 2));
}

/** A delivery failure; `transient` ones (network, 5xx, 429) are retried. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** A delay the receiver asked for (HTTP Retry-After), in ms. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

/** Runs `attempt` until it succeeds, a permanent error occurs, or `maxAttempts` are used; returns the attempts made. */
export async function withRetries(
  attempt: (n: number) => Promise<void>,
  opts: BackoffOptions & {
    maxAttempts: number;
    sleep: Sleep;
    onRetry?: (n: number, delayMs: number, err: unknown) => void;
  },
): Promise<number> {
  for (let n = 1; ; n++) {
    try {
      await attempt(n);
      return n;
    } catch (err) {
      const transient = !(err instanceof DeliveryError) || err.transient;
      if (!transient || n >= opts.maxAttempts) throw Object.assign(err as object, { attempts: n });
      const requested = err instanceof DeliveryError ? err.retryAfterMs : undefined;
      const delay = Math.min(opts.maxMs, Math.max(backoffDelay(n, opts), requested ?? 0));
      opts.onRetry?.(n, delay, err);
      await opts.sleep(delay);
    }
  }
}
