import { pino, destination, type Logger as PinoLogger } from 'pino';

/** A pino logger writing JSON lines to stderr (stdout stays free for status lines and results). */
export function createLogger(opts: { level?: string; name?: string } = {}): PinoLogger {
  return pino(
    { name: opts.name ?? 'optibid', level: opts.level ?? process.env.OPTIBID_LOG_LEVEL ?? 'info' },
    destination(2),
  );
}
