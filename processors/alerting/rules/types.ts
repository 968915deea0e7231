import { formatDate, type StreamRecord } from '@optibid/runtime';
import { fieldOf, matchesWhere, timeAt } from '../fields.js';
import type { MarketCalendar } from '../calendar.js';
import type { RuleSpec } from '../rules-schema.js';

/** Where the record that triggered (or cleared) an alert came from. */
export interface SourceLink {
  topic: string;
  partition?: number;
  offset?: string;
}

/** What an evaluator observed when a condition holds. */
export interface Observation {
  /** Event time at which the condition holds. */
  at: number;
  value?: number | null;
  threshold?: number | null;
  unit?: string | null;
  /** Default message when the rule has no `summary` template. */
  message: string;
  source?: SourceLink;
  /** Extra template variables for `summary`. */
  vars?: Record<string, string | number>;
}

/** Identity of one alert of a rule: its key labels (also the fingerprint input) and what it is about. */
export interface AlertIdentity {
  labels: Record<string, string>;
  resource: string;
}

/**
 * A rule's own keyed state (keys are scoped to the rule). Values must survive `JSON.stringify` (no
 * Infinity, NaN, undefined, Map or class instances): on Kafka they go to the processor's changelog.
 * A value read here is shared with the store: put a new object rather than mutating it.
 */
export interface RuleState {
  get(key: string): unknown;
  put(key: string, value: unknown): void;
  delete(key: string): void;
}

/** What an evaluator can do. Time is event time in ms. */
export interface EvalContext {
  readonly calendar: MarketCalendar;
  /** The rule's persisted state; everything an evaluator remembers between records lives here. */
  readonly state: RuleState;
  /** The condition holds for this alert (called again while it keeps holding, to refresh the value). */
  raise(id: AlertIdentity, obs: Observation): void;
  /** The condition no longer holds; resolves the alert if it was active (`message` replaces the resolved event's message). */
  clear(id: AlertIdentity, at: number, source?: SourceLink, message?: string): void;
  /** Whether the alert is currently pending or firing. */
  isActive(id: AlertIdentity): boolean;
  /** Runs `fire` once event time reaches `at`. */
  schedule(at: number, fire: (at: number) => void): void;
}

/** Turns records and time into raise/clear calls for one rule. */
export interface RuleEvaluator {
  readonly spec: RuleSpec;
  /** Topics the rule reads. */
  readonly topics: string[];
  /**
   * True for rules driven by the clock rather than by records (calendar rules): they run in one engine
   * only (input partition 0's), see processor.ts.
   */
  readonly clockDriven?: boolean;
  /** Called once with the first event time the engine sees (calendar rules schedule from here). */
  start?(at: number, ctx: EvalContext): void;
  /**
   * Called instead of `start` when the engine is rebuilt from persisted state (restart, rebalance):
   * `entries` are the rule's state entries; re-arm the timers they imply. `at` is the restored engine time.
   */
  restore?(entries: Array<[string, unknown]>, at: number, ctx: EvalContext): void;
  /** Handles one record of one of `topics`; `at` is the record's event time. */
  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void;
}

/** A source link for a record. */
export function linkOf(record: StreamRecord): SourceLink {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** Default resource name: key label values joined by "/". */
export function resourceOf(labels: Record<string, string>, fallback: string): string {
  const values = Object.values(labels);
  return values.length > 0 ? values.join('/') : fallback;
}

/** The settings of a calendar rule that watches one topic for records of some areas' delivery days. */
export interface AreaDaySpec {
  areas: string[];
  where?: Record<string, unknown>;
  areaField?: string;
  deliveryField?: string;
}

/**
 * The market, area and delivery day (`YYYY-MM-DD` in the market's time zone) a record reports, when it
 * matches the rule's `where` and is for one of its areas; undefined otherwise.
 */
export function areaDayOf(
  record: StreamRecord,
  spec: AreaDaySpec,
  ctx: EvalContext,
): { market: string; area: string; day: string } | undefined {
  if (!matchesWhere(record, spec.where)) return undefined;
  const area = fieldOf(record, spec.areaField ?? 'area');
  const delivery = timeAt(record, spec.deliveryField ?? 'deliveryStart');
  if (typeof area !== 'string' || !spec.areas.includes(area) || delivery === undefined) return undefined;
  const market = ctx.calendar.marketOf(area)!;
  return { market, area, day: formatDate(ctx.calendar.deliveryDay(market, delivery)) };
}
