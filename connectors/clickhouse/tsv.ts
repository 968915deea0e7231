import type { StreamRecord } from '@optibid/runtime';
import { resolveCell } from '../timescale/datasets.js';
import type { Dataset, RejectedRecord } from '../timescale/datasets.js';

/**
 * Escapes a string for ClickHouse's TabSeparated format (`\N` is null; timestamps stay epoch-ms
 * integers): cheaper to build than JSON objects and cheaper for the server to parse, on 18.16 and current releases.
 */
function escape(s: string): string {
  return /[\\\t\n\r\0]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\0/g, '\\0')
    : s;
}

/**
 * Maps records straight to TabSeparated lines in column order (one pass, no intermediate rows);
 * records that do not fit are rejected with a reason, as in `toRows`.
 */
export function recordsToTsv(ds: Dataset, records: StreamRecord[]): { lines: string[]; rejected: RejectedRecord[] } {
  const cols = ds.columns;
  const lines: string[] = [];
  const rejected: RejectedRecord[] = [];
  for (const record of records) {
    const value = record.value as Record<string, unknown> | null;
    if (value === null || typeof value !== 'object') {
      rejected.push({
        record,
        reason: `${ds.topic}: record value must be an object, got ${value === null ? 'null' : typeof value}`,
      });
      continue;
    }
    let line = '';
    let reason: string | undefined;
    for (let i = 0; i < cols.length; i++) {
      const c = resolveCell(cols[i]!, record, value);
      if (c instanceof Error) {
        reason = c.message;
        break;
      }
      if (i > 0) line += '\t';
      line += c === null ? '\\N' : typeof c === 'string' ? escape(c) : String(c);
    }
    if (reason !== undefined) rejected.push({ record, reason: `${ds.topic}: ${reason}` });
    else lines.push(`${line}\n`);
  }
  return { lines, rejected };
}
