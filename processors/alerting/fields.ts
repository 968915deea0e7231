import { createHash } from 'node:crypto';
import type { StreamRecord } from '@optibid/runtime';

/** The value at dot path `path` in a record's value; `$key`, `$topic`, `$timestamp` address the record itself. */
export function fieldOf(record: StreamRecord, path: string): unknown {
  if (path === '$key') return record.key ?? undefined;
  if (path === '$topic') return record.topic;
  if (path === '$timestamp') return record.timestamp;
  let cur: unknown = record.value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
    // Avro unions decoded by some serdes arrive as { type: value }; unwrap single-branch objects of scalars.
  }
  return cur;
}

/** A numeric field, or undefined when it is absent, null or not a finite number. */
export function numberAt(record: StreamRecord, path: string): number | undefined {
  const v = fieldOf(record, path);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** A timestamp field (ms number, numeric string or ISO string). */
export function timeAt(record: StreamRecord, path: string): number | undefined {
  const v = fieldOf(record, path);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** True when the record satisfies every `where` condition (equality, or membership for lists). */
export function matchesWhere(record: StreamRecord, where: Record<string, unknown> | undefined): boolean {
  if (!where) return true;
  for (const [path, expected] of Object.entries(where)) {
    const actual = fieldOf(record, path);
    const options = Array.isArray(expected) ? expected : [expected];
    if (!options.some((o) => o === actual || String(o) === String(actual))) return false;
  }
  return true;
}

/** Label name for a key path: the last path segment (`site.id` → `id`), `key` for `$key`. */
export function labelName(path: string): string {
  return path === '$key' ? 'key' : (path.split('.').at(-1) ?? path);
}

/** Key labels of a record for `keyBy` paths; undefined when a key field is missing. */
export function keyLabels(record: StreamRecord, keyBy: string[]): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const path of keyBy) {
    const v = fieldOf(record, path);
    if (v === undefined || v === null || typeof v === 'object') return undefined;
    labels[labelName(path)] = String(v);
  }
  return labels;
}

/** Replaces `{{name}}` with `vars[name]`; unknown names stay visible as `{{name}}` so typos show. */
export function renderTemplate(template: string, vars: Record<string, string | number | null | undefined>): string {
  return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (whole, name: string) => {
    const v = vars[name];
    return v === undefined || v === null ? whole : typeof v === 'number' ? formatNumber(v) : v;
  });
}

/** A number for messages: up to 3 decimals, no trailing zeros. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Math.round(n * 1000) / 1000);
}

/** Stable fingerprint of an alert: a hash of the rule name and its identifying labels, sorted by name. */
export function fingerprint(rule: string, labels: Record<string, string>): string {
  const canonical = JSON.stringify([
    rule,
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
