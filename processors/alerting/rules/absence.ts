import type { StreamRecord } from '@optibid/runtime';
import { formatDuration, parseDuration } from '../duration.js';
import { keyLabels, matchesWhere } from '../fields.js';
import type { AbsenceRuleSpec } from '../rules-schema.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator, type SourceLink } from './types.js';

/**
 * What the rule keeps per key (state key: the key labels as JSON): `at`, the engine time the key was
 * last seen (its deadline runs from here), and `eventAt`, the newest record event time of the key (a
 * record not newer than it is a redelivery or a late straggler, which says nothing about the device
 * being back); null for `expectedKeys` that never reported.
 */
interface LastSeen {
  at: number;
  eventAt: number | null;
  source?: SourceLink;
  /** Set once the deadline passed and the rule raised (a restored engine does not raise again). */
  fired?: true;
}

/**
 * Fires when a key (device, area, ...) has sent no record for `after` of event time;
 * resolves when it reports again. Keys are learned from records, plus `expectedKeys` from the start.
 */
export class AbsenceEvaluator implements RuleEvaluator {
  readonly topics: string[];
  private readonly afterMs: number;

  constructor(readonly spec: AbsenceRuleSpec) {
    this.topics = [spec.topic];
    this.afterMs = parseDuration(spec.after) ?? 0;
  }

  start(at: number, ctx: EvalContext): void {
    for (const labels of this.spec.expectedKeys ?? []) this.seen(labels, at, undefined, ctx);
  }

  /** After a restart every key's deadline is armed again from the time it was last seen, not from now. */
  restore(entries: Array<[string, unknown]>, _at: number, ctx: EvalContext): void {
    for (const [k, v] of entries) if (!(v as LastSeen).fired) this.arm(k, (v as LastSeen).at, ctx);
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.spec.keyBy ?? []);
    if (!labels) return;
    const previous = ctx.state.get(JSON.stringify(labels)) as LastSeen | undefined;
    // Compared on the record's own event time, not on `at` (which is at least the engine's current time):
    // an at-least-once redelivery of an old reading (Kafka refetch after an aborted commit) would
    // otherwise look new and resolve the alert it cannot clear.
    if (previous && (at <= previous.at || (previous.eventAt !== null && record.timestamp <= previous.eventAt))) return;
    const id = { labels, resource: resourceOf(labels, this.spec.topic) };
    if (ctx.isActive(id)) ctx.clear(id, at, linkOf(record));
    this.seen(labels, at, linkOf(record), ctx, record.timestamp);
  }

  private seen(
    labels: Record<string, string>,
    at: number,
    source: SourceLink | undefined,
    ctx: EvalContext,
    eventAt: number | null = null,
  ): void {
    const k = JSON.stringify(labels);
    const last: LastSeen = source ? { at, eventAt, source } : { at, eventAt };
    ctx.state.put(k, last);
    this.arm(k, at, ctx);
  }

  private arm(k: string, at: number, ctx: EvalContext): void {
    ctx.schedule(at + this.afterMs, (now) => {
      const last = ctx.state.get(k) as LastSeen | undefined;
      if (!last || last.at !== at) return; // a newer record re-armed the timer
      const labels = JSON.parse(k) as Record<string, string>;
      const id = { labels, resource: resourceOf(labels, this.spec.topic) };
      ctx.state.put(k, { ...last, fired: true });
      const silentFor = formatDuration(now - at);
      ctx.raise(id, {
        at: now,
        value: (now - at) / 1000,
        threshold: this.afterMs / 1000,
        unit: 's',
        source: last.source,
        message: `${id.resource} has sent nothing on ${this.spec.topic} for ${silentFor} (last at ${new Date(at).toISOString()})`,
        vars: { after: this.spec.after, lastSeen: new Date(at).toISOString(), silentFor },
      });
    });
  }
}
