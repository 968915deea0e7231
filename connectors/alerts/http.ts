import { DeliveryError } from './retry.js';

/** Parses HTTP Retry-After (seconds or a date) into ms. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * POSTs a JSON body. Network errors, timeouts, 408, 429 and 5xx are transient (retried);
 * other non-2xx answers are permanent (the receiver rejected the alert).
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'optibid-alerts/0.1', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new DeliveryError(`POST ${url}: ${cause?.code ?? (err as Error).message}`, true, undefined, { cause: err });
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return;
  const transient = res.status === 408 || res.status === 429 || res.status >= 500;
  throw new DeliveryError(
    `POST ${url}: HTTP ${res.status} ${text.slice(0, 200)}`.trim(),
    transient,
    retryAfterMs(res.headers.get('retry-after')),
  );
}
