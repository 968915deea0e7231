/**
 * The runtime's error catalogue. Every error OptiBid raises on purpose carries a stable
 * `code` (documented in runtime/ERRORS.md, checked by errors.test.ts), whether retrying
 * can help, and the context a user needs to find the cause (topic, partition, offset, file, line).
 */

export const errorCodes = {
  OPTIBID_ERR_CONFIG: 'Configuration is invalid; the message names the file, line and key.',
  OPTIBID_ERR_SERVICE_START: 'A local service failed to start; the tail of its log is attached.',
  OPTIBID_ERR_SERVICE_INSTALL: 'Installing a local service failed.',
  OPTIBID_ERR_NETWORK: 'A network peer could not be reached.',
  OPTIBID_ERR_TIMEOUT: 'An operation did not finish in time.',
  OPTIBID_ERR_UPSTREAM: 'An upstream system answered with an error.',
  OPTIBID_ERR_DECODE: 'A record could not be decoded.',
  OPTIBID_ERR_USAGE: 'A command was called with invalid arguments.',
  OPTIBID_ERR_LATE:
    'A record arrived after its window closed and the allowed lateness passed (it goes to the late-data topic, or the DLQ when none is set).',
  OPTIBID_ERR_RECORD:
    'A record does not have the shape a processor needs (missing or non-numeric field); it goes to the DLQ.',
  OPTIBID_ERR_MARKET_RULE:
    'A bid curve breaks a rule of its market (price bounds or tick, quantity tick, ordering, interval length or count); the message and context.rule name the rule.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** Where an error happened, as far as it is known. */
export interface ErrorContext {
  topic?: string;
  partition?: number;
  offset?: string;
  file?: string;
  line?: number;
  column?: number;
  service?: string;
  [key: string]: unknown;
}

/** Base class of every deliberate OptiBid error. */
export class OptiBidError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retriable?: boolean; cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OptiBidError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.context = opts.context ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retriable: this.retriable, ...this.context };
  }
}

/** True when `err` is an OptiBidError with the given code. */
export function isOptiBidError(err: unknown, code?: ErrorCode): err is OptiBidError {
  return err instanceof OptiBidError && (code === undefined || err.code === code);
}
