import { OptiBidError, type Clock, type Logger } from '@optibid/runtime';
import { retriableStatus } from './status.js';
import type { Sleeper } from './timer.js';
import type { Payload } from './payload.js';

/** How the fetcher paces and retries requests. */
export interface FetchPolicy {
  /** Most requests per minute to one upstream (default 30); requests are spaced evenly. */
  requestsPerMinute: number;
  /** Retries after the first attempt on network errors, timeouts, 429 and 5xx (default 4). */
  maxRetries: number;
  /** First back-off in ms, doubled per retry (default 2000), capped at maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs: number;
  /** Largest body read, in bytes (default 20 MiB). */
  maxBytes: number;
}

export const defaultFetchPolicy: FetchPolicy = {
  requestsPerMinute: 30,
  maxRetries: 4,
  backoffMs: 2000,
  maxBackoffMs: 120_000,
  timeoutMs: 30_000,
  maxBytes: 20 * 1024 * 1024,
};

/** A request the fetcher makes. The URL may carry secrets: it is never logged with its query. */
export interface HttpRequest {
  url: string;
  headers?: Record<string, string>;
  /** Name used in logs and errors instead of the URL (e.g. "entsoe A44 BE 2024-10-08"). */
  label: string;
}

/** Seconds or HTTP-date of a Retry-After header → ms to wait, or undefined. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Strips query parameters that look secret (token, key, password) from a URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()])
      if (/token|key|secret|password|auth/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return url;
  }
}

async function readCapped(res: Response, max: number, label: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max)
    throw new OptiBidError(
      'OPTIBID_ERR_UPSTREAM',
      `${label}: response of ${declared} bytes exceeds the ${max}-byte limit`,
    );
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > max) throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `${label}: response exceeds the ${max}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * HTTP GET with pacing (requests per minute), retries with exponential back-off on network errors,
 * timeouts, 429 and 5xx (a Retry-After header, in seconds or as a date, is honoured), a timeout and a
 * body size cap. Time comes from the injected clock and sleeper. Other 4xx statuses are returned to the
 * parser, which knows what the upstream's error bodies mean.
 */
export class HttpFetcher {
  private nextSlot = 0;
  readonly policy: FetchPolicy;
  /** Requests actually sent (for metrics and tests). */
  requests = 0;

  constructor(
    private readonly clock: Clock,
    private readonly sleeper: Sleeper,
    policy: Partial<FetchPolicy> = {},
    private readonly logger?: Logger,
    private readonly signal?: AbortSignal,
  ) {
    const given = Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined));
    this.policy = { ...defaultFetchPolicy, ...given };
  }

  private async pace(): Promise<void> {
    const now = this.clock.now();
    const wait = this.nextSlot - now;
    if (wait > 0) await this.sleeper.sleep(wait, this.signal);
    this.nextSlot = Math.max(now, this.nextSlot) + 60_000 / this.policy.requestsPerMinute;
  }

  async get(req: HttpRequest): Promise<Payload> {
    let lastError: OptiBidError | undefined;
    for (let attempt = 0; attempt <= this.policy.maxRetries; attempt++) {
      if (this.signal?.aborted) throw new OptiBidError('OPTIBID_ERR_TIMEOUT', `${req.label}: aborted`);
      await this.pace();
      let wait: number | undefined;
      try {
        this.requests++;
        const res = await fetch(req.url, {
          headers: req.headers,
          signal: AbortSignal.timeout(this.policy.timeoutMs),
          redirect: 'follow',
        });
        const body = await readCapped(res, this.policy.maxBytes, req.label);
        const payload: Payload = {
          body,
          status: res.status,
          contentType: res.headers.get('content-type') ?? undefined,
          where: req.label,
        };
        if (!retriableStatus(res.status)) return payload;
        lastError = new OptiBidError('OPTIBID_ERR_UPSTREAM', `${req.label}: HTTP ${res.status}`, {
          retriable: true,
          context: { status: res.status },
        });
        wait = retryAfterMs(res.headers.get('retry-after'), this.clock.now());
      } catch (err) {
        if (err instanceof OptiBidError && !err.retriable) throw err;
        const timeout = (err as Error).name === 'TimeoutError';
        lastError = new OptiBidError(
          timeout ? 'OPTIBID_ERR_TIMEOUT' : 'OPTIBID_ERR_NETWORK',
          `${req.label}: ${timeout ? `no response within ${this.policy.timeoutMs} ms` : `request failed (${(err as Error).message})`}`,
          { retriable: true, cause: err },
        );
      }
      if (attempt === this.policy.maxRetries) break;
      const backoff = Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** attempt);
      const delay = wait ?? backoff;
      this.logger?.warn({ request: req.label, attempt: attempt + 1, delayMs: delay }, lastError!.message);
      await this.sleeper.sleep(delay, this.signal);
    }
    throw new OptiBidError(
      lastError!.code,
      `${lastError!.message} (gave up after ${this.policy.maxRetries + 1} attempts)`,
      { retriable: true, cause: lastError },
    );
  }
}
