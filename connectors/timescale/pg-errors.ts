import { NotConnected } from '@optibid/runtime';

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** SQLSTATEs meaning the server is going away, starting up or out of connections. */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** True when `err` means PostgreSQL could not be reached or dropped the connection (retrying can help). */
export function isPgUnavailable(err: unknown): boolean {
  // duck-typed: errors raised by Node's net module may come from another realm (vm contexts, Jest)
  if (typeof err !== 'object' || err === null) return false;
  const { code, errors, message } = err as { code?: unknown; errors?: unknown; message?: unknown };
  if (typeof code === 'string' && (networkCodes.has(code) || unavailableStates.has(code) || code.startsWith('08')))
    return true;
  if (Array.isArray(errors) && errors.some(isPgUnavailable)) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|terminating connection|ECONNREFUSED/i.test(
      message,
    )
  );
}

/** Wraps an outage as `NotConnected` (the runtime pauses and retries); other errors pass through. */
export function classifyPgError(err: unknown, what: string): unknown {
  if (err instanceof NotConnected) return err;
  return isPgUnavailable(err)
    ? new NotConnected(`${what}: PostgreSQL unavailable (${String((err as { message?: unknown }).message)})`, {
        cause: err,
      })
    : err;
}
