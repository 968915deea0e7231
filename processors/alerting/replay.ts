import { readFileSync } from 'node:fs';
import { OptiBidError, type StreamRecord } from '@optibid/runtime';
import { AlertEngine, type AlertNotification } from './engine.js';
import type { RulesFile } from './rules-schema.js';

/** A line of a records file that could not be used, with the reason (the dry run's dead letters). */
export interface RejectedLine {
  file: string;
  line: number;
  reason: string;
}

/**
 * Parses a JSON-lines file of recorded records: one object per line with `topic`, `value`,
 * `timestamp` (ms since the epoch or an ISO 8601 string) and optionally `key`, `partition`, `offset`.
 * Blank lines and lines starting with `#` are skipped; bad lines are returned as rejected with a reason.
 */
export function parseRecordLines(
  text: string,
  file = '<records>',
): { records: StreamRecord[]; rejected: RejectedLine[] } {
  const records: StreamRecord[] = [];
  const rejected: RejectedLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const reject = (reason: string) => rejected.push({ file, line: i + 1, reason });
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      return reject(`not JSON: ${(err as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return reject('a record line is a JSON object');
    const r = obj as Record<string, unknown>;
    if (typeof r.topic !== 'string' || r.topic === '') return reject('missing "topic"');
    if (!('value' in r)) return reject('missing "value"');
    const ts =
      typeof r.timestamp === 'number'
        ? r.timestamp
        : typeof r.timestamp === 'string'
          ? Date.parse(r.timestamp)
          : Number.NaN;
    if (!Number.isFinite(ts)) return reject('"timestamp" must be ms since the epoch or an ISO 8601 instant');
    records.push({
      topic: r.topic,
      key: r.key === undefined || r.key === null ? null : String(r.key),
      value: r.value,
      timestamp: ts,
      partition: typeof r.partition === 'number' ? r.partition : 0,
      offset: r.offset === undefined ? String(i + 1) : String(r.offset),
    });
  });
  return { records, rejected };
}

/** Options of a dry run. */
export interface ReplayOptions {
  /** Ignore records before this instant; virtual time starts here. */
  from?: number;
  /** Ignore records at or after this instant; virtual time runs up to here at the end. */
  to?: number;
}

/**
 * Replays records through the rules on virtual time, in event-time order (stable for equal times),
 * and returns every notification. Time ends at `to`, or at the last record.
 */
export function replayRecords(
  rules: RulesFile,
  records: StreamRecord[],
  opts: ReplayOptions = {},
): AlertNotification[] {
  if (opts.from !== undefined && opts.to !== undefined && opts.to <= opts.from) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', '--to must be after --from');
  }
  // Virtual time: the engine's clock is event time, so emittedAt equals each notification's event time.
  const engine = new AlertEngine(rules);
  const selected = records
    .map((r, i) => ({ r, i }))
    .filter(
      ({ r }) =>
        (opts.from === undefined || r.timestamp >= opts.from) && (opts.to === undefined || r.timestamp < opts.to),
    )
    .sort((a, b) => a.r.timestamp - b.r.timestamp || a.i - b.i)
    .map(({ r }) => r);
  const out: AlertNotification[] = [];
  if (opts.from !== undefined) engine.start(opts.from);
  for (const record of selected) out.push(...engine.process(record));
  const end = opts.to ?? selected.at(-1)?.timestamp;
  if (end !== undefined) out.push(...engine.advanceTo(end));
  return out;
}

/** Reads a records file (throws OPTIBID_ERR_USAGE when it cannot be read). */
export function readRecordsFile(path: string): { records: StreamRecord[]; rejected: RejectedLine[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', `cannot read records file ${path}: ${(err as Error).message}`);
  }
  return parseRecordLines(text, path);
}
