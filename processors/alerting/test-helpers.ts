import type { StreamRecord } from '@optibid/runtime';
import { AlertEngine, type AlertNotification } from './engine.js';
import { parseRules } from './rules-file.js';

/** An engine over rules given as YAML text (tests). */
export function engineFor(yaml: string): AlertEngine {
  return new AlertEngine(parseRules(yaml, 'test.yaml'));
}

let offset = 0;

/** A record at ISO time `iso` (tests). */
export function rec(
  topic: string,
  iso: string,
  value: Record<string, unknown>,
  key: string | null = null,
): StreamRecord {
  return { topic, key, value, timestamp: Date.parse(iso), partition: 0, offset: String(offset++) };
}

/** A compact view of notifications: `state rule resource @ISO` (tests). */
export function summary(ns: AlertNotification[]): string[] {
  return ns.map(
    (n) =>
      `${n.event.state}${n.repeat ? `#${n.repeat}` : ''} ${n.event.rule} ${n.event.resource} @${new Date(n.at).toISOString().slice(0, 16)}`,
  );
}

/** Feeds records in order and then lets time pass to `until`; returns every notification (tests). */
export function run(engine: AlertEngine, records: StreamRecord[], until?: string): AlertNotification[] {
  const out: AlertNotification[] = [];
  for (const r of records) out.push(...engine.process(r));
  if (until) out.push(...engine.advanceTo(Date.parse(until)));
  return out;
}
