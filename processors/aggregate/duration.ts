import { Type } from '@sinclair/typebox';
import { OptiBidError } from '@optibid/runtime';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in config: milliseconds, or a string like `15m`, `1h`, `1d`, `500ms`. */
export const Duration = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$' })], {
  description: 'milliseconds, or a number with a unit: ms, s, m, h, d (e.g. "15m", "1h")',
});

/** Milliseconds of a Duration value. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(value);
  if (!m)
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `"${value}" is not a duration (use e.g. 500ms, 30s, 15m, 1h, 1d)`);
  return Number(m[1]) * units[m[2]!]!;
}
