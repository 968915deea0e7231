import { NotConnected } from '@optibid/runtime';

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** SQLSTATEs meaning the server is going away, starting up or out of connections. */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** True when `err` means PostgreSQL could not be reached or dropped the connection (retrying can help). */
export function isPgUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (networkCodes.has(code) || unavailableStates.has(code) || code.startsWith('08'))) return true;
  if (err instanceof AggregateError) return err.errors.some(isPgUnavailable);
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|terminating connection/i.test(
    err.message,
  );
}

/** Wraps an outage as `NotConnected` (the runtime pauses and retries); other errors pass through. */
export function classifyPgError(err: unknown, what: string): unknown {
  if (err instanceof NotConnected) return err;
  return isPgUnavailable(err) ? new NotConnected(`${what}: PostgreSQL unavailable (${(err as Error).message})`, { cause: err }) : err;
}
