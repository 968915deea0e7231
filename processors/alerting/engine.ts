import type { Headers, OutRecord, StreamRecord } from '@optibid/runtime';
import { MarketCalendar } from './calendar.js';
import { parseDuration } from './duration.js';
import { fingerprint, renderTemplate } from './fields.js';
import { AbsenceEvaluator } from './rules/absence.js';
import { AnomalyEvaluator } from './rules/anomaly.js';
import { DeviceLimitsEvaluator } from './rules/device-limits.js';
import { ForecastBandEvaluator } from './rules/forecast-band.js';
import { GateClosureEvaluator } from './rules/gate-closure.js';
import { PriceLimitsEvaluator } from './rules/price-limits.js';
import { PublicationLateEvaluator } from './rules/publication-late.js';
import { RateOfChangeEvaluator } from './rules/rate-of-change.js';
import { ThresholdEvaluator } from './rules/threshold.js';
import type { AlertIdentity, EvalContext, Observation, RuleEvaluator, RuleState, SourceLink } from './rules/types.js';
import type { AlertEvent as AlertEventValue, AlertSeverity, AlertState } from '@optibid/schemas';
import { Router, type RouteResult } from './routing.js';
import type { RuleSpec, RulesFile, SeverityName } from './rules-schema.js';
import { Silencer } from './silences.js';
import { TimerQueue } from './timers.js';

/**
 * The value of an `alerts.events` record, from the generated topic types; the engine only ever emits
 * known severities and states, never the UNKNOWN that readers map unknown symbols to.
 */
export type AlertEvent = AlertEventValue & {
  severity: Exclude<AlertSeverity, 'UNKNOWN'>;
  state: Exclude<AlertState, 'UNKNOWN'>;
};

/** One notification the engine decided to send: the event plus its routing. */
export interface AlertNotification {
  /** Event time of the notification (first firing, a repeat, or the resolution). */
  at: number;
  event: AlertEvent;
  routes: RouteResult[];
  /** 0 for the first FIRING event, n for the n-th repeat. */
  repeat: number;
}

/** Counters of what the engine did, for metrics and tests. */
export interface EngineStats {
  fired: number;
  repeated: number;
  resolved: number;
  muted: number;
}

interface ActiveAlert {
  id: string;
  rule: CompiledRule;
  identity: AlertIdentity;
  status: 'pending' | 'firing';
  since: number;
  obs: Observation;
  notified: boolean;
  repeats: number;
  lastSentAt: number;
  /** When the next repeat is due (firing alerts with a repeatInterval), else null. */
  nextRepeatAt: number | null;
  generation: number;
}

/** An active alert as persisted under `a/<alertId>` (JSON-safe; the rule is referred to by name). */
interface StoredAlert {
  rule: string;
  labels: Record<string, string>;
  resource: string;
  status: 'pending' | 'firing';
  since: number;
  obs: Observation;
  notified: boolean;
  repeats: number;
  lastSentAt: number;
  nextRepeatAt: number | null;
}

/** The engine's own bookkeeping, persisted under `meta`. */
interface StoredMeta {
  v: 1;
  /** Whether `start` ran (calendar rules scheduled, expected keys seeded). */
  started: boolean;
  /** Engine (event) time; null before the first record or watermark. */
  current: number | null;
  /** Whether this engine runs the clock-driven rules (see EngineOptions.clockRules). */
  clockRules: boolean;
}

/**
 * Where an engine keeps everything it must remember: the processor passes the runtime's `ctx.state`
 * of one input partition (changelogged on Kafka); by default an in-memory map. Values are JSON-safe.
 */
export interface EngineStore {
  get(key: string): unknown;
  put(key: string, value: unknown): void;
  delete(key: string): void;
  entries(): Iterable<[string, unknown]>;
}

/** State key of the engine's bookkeeping. */
export const metaKey = 'meta';
/** State key prefix of active (pending or firing) alerts: `a/<alertId>`. */
export const alertKeyPrefix = 'a/';
/** State key prefix of a rule's own state: `r/<rule name>/<key>`. */
export const ruleKeyPrefix = 'r/';

/** An EngineStore on a Map (dry runs, tests, and the engine that runs before any input partition exists). */
export class MapEngineStore implements EngineStore {
  readonly map = new Map<string, unknown>();
  get(key: string): unknown {
    return this.map.get(key);
  }
  put(key: string, value: unknown): void {
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  entries(): Iterable<[string, unknown]> {
    return this.map.entries();
  }
}

interface CompiledRule {
  spec: RuleSpec;
  evaluator: RuleEvaluator;
  severity: SeverityName;
  labels: Record<string, string>;
  forMs: number;
  repeatMs: number;
}

/** Options of an engine. */
export interface EngineOptions {
  /** Processing-time clock for `emittedAt`; default: event time (dry runs). */
  emittedAt?: () => number;
  /**
   * Where the state lives; default: a new in-memory map. A store that already holds an engine's state
   * (after a restart or rebalance) is restored from: active alerts, `for` windows, repeat schedules,
   * rule state and timers carry on where they were.
   */
  store?: EngineStore;
  /**
   * Whether this engine runs the clock-driven parts: calendar rules (gate-closure, publication-late)
   * and absence `expectedKeys`. Default true. The processor runs one engine per input partition and
   * gives these to partition 0's only, so they alert once. A restored store keeps what it was created with.
   */
  clockRules?: boolean;
}

/** Non-finite numbers become null (JSON has no Infinity). */
function finiteOrNull(n: number | null | undefined): number | null | undefined {
  return n === null || n === undefined || Number.isFinite(n) ? n : null;
}

function createEvaluator(spec: RuleSpec): RuleEvaluator {
  switch (spec.kind) {
    case 'threshold':
      return new ThresholdEvaluator(spec);
    case 'rate-of-change':
      return new RateOfChangeEvaluator(spec);
    case 'anomaly':
      return new AnomalyEvaluator(spec);
    case 'absence':
      return new AbsenceEvaluator(spec);
    case 'publication-late':
      return new PublicationLateEvaluator(spec);
    case 'gate-closure':
      return new GateClosureEvaluator(spec);
    case 'price-limits':
      return new PriceLimitsEvaluator(spec);
    case 'forecast-band':
      return new ForecastBandEvaluator(spec);
    case 'device-limits':
      return new DeviceLimitsEvaluator(spec);
  }
}

/**
 * Evaluates a rules file on event time. Feed it records (`process`) and let time pass (`advanceTo`);
 * both return the notifications due, in event-time order. Alert lifecycle follows Alertmanager:
 * an alert is identified by a fingerprint of rule and labels, fires once (after `for`, when set),
 * repeats every `repeatInterval` while active and sends one RESOLVED event when it clears.
 * Muted (silenced or in maintenance) notifications are dropped; an alert whose FIRING was muted
 * sends no RESOLVED either, and the next repeat after the mute ends is sent.
 */
export class AlertEngine {
  readonly calendar: MarketCalendar;
  readonly stats: EngineStats = { fired: 0, repeated: 0, resolved: 0, muted: 0 };
  /** Whether this engine runs the clock-driven rules (calendar rules, absence expectedKeys). */
  readonly clockRules: boolean;
  /** Whether the engine was rebuilt from a store that already held state. */
  readonly restored: boolean;
  private readonly rules: CompiledRule[];
  private readonly byName = new Map<string, CompiledRule>();
  private readonly byTopic = new Map<string, CompiledRule[]>();
  /** Topics only clock-driven rules read, in an engine that does not run them. */
  private readonly skipped = new Set<string>();
  private readonly timers = new TimerQueue();
  /** Mirror of the persisted `a/<alertId>` entries (the store is the truth; rebuilt on restore). */
  private readonly active = new Map<string, ActiveAlert>();
  private readonly contexts = new Map<CompiledRule, EvalContext>();
  private readonly router: Router;
  private readonly silencer: Silencer;
  private readonly out: AlertNotification[] = [];
  private store: EngineStore;
  private current = Number.NEGATIVE_INFINITY;
  private savedCurrent = Number.NEGATIVE_INFINITY;
  private started = false;

  constructor(
    file: RulesFile,
    private readonly options: EngineOptions = {},
  ) {
    this.calendar = new MarketCalendar(file.markets);
    this.router = new Router(file.route, file.receivers);
    this.silencer = new Silencer(file.silences, file.maintenance);
    this.store = options.store ?? new MapEngineStore();
    const d = file.defaults;
    this.rules = file.rules.map((spec) => ({
      spec,
      evaluator: createEvaluator(spec),
      severity: spec.severity ?? d.severity ?? 'warning',
      labels: { ...d.labels, ...spec.labels },
      forMs: parseDuration(spec.for ?? d.for ?? '0s') ?? 0,
      repeatMs: parseDuration(spec.repeatInterval ?? d.repeatInterval ?? '4h') ?? 0,
    }));
    const meta = this.store.get(metaKey) as StoredMeta | undefined;
    this.restored = meta !== undefined;
    this.clockRules = meta?.clockRules ?? options.clockRules ?? true;
    for (const rule of this.rules) {
      this.byName.set(rule.spec.name, rule);
      const runs = this.clockRules || !rule.evaluator.clockDriven;
      for (const topic of rule.evaluator.topics) {
        if (!runs) {
          this.skipped.add(topic);
          continue;
        }
        const list = this.byTopic.get(topic) ?? [];
        list.push(rule);
        this.byTopic.set(topic, list);
      }
    }
    for (const topic of this.byTopic.keys()) this.skipped.delete(topic);
    if (meta) this.restore(meta);
  }

  /** Current event time of the engine. */
  get now(): number {
    return this.current;
  }

  /** Topics any rule reads. */
  get topics(): string[] {
    return [...this.byTopic.keys()];
  }

  /** Topics read only by clock-driven rules that this engine does not run (`clockRules: false`). */
  get skippedTopics(): string[] {
    return [...this.skipped];
  }

  /** Alerts currently pending or firing. */
  activeAlerts(): Array<{
    alertId: string;
    rule: string;
    status: 'pending' | 'firing';
    since: number;
    labels: Record<string, string>;
  }> {
    return [...this.active.values()].map((a) => ({
      alertId: a.id,
      rule: a.rule.spec.name,
      status: a.status,
      since: a.since,
      labels: a.identity.labels,
    }));
  }

  /**
   * Moves the engine's whole state into `store` and keeps it there from now on (the processor's engine
   * that ran before any input partition existed, adopted by partition 0's `ctx.state`).
   */
  moveTo(store: EngineStore): void {
    if (store === this.store) return;
    for (const [k, v] of [...this.store.entries()]) store.put(k, v);
    this.store = store;
  }

  /** Starts the clock at `at` if it has not started (calendar rules schedule their first occurrences from here). */
  start(at: number): void {
    if (this.started) return;
    this.started = true;
    this.current = at;
    this.saveMeta();
    if (!this.clockRules) return;
    for (const rule of this.rules) rule.evaluator.start?.(at, this.contextFor(rule));
  }

  /** Handles one record at its event time; timers due strictly before it fire first. */
  process(record: StreamRecord): AlertNotification[] {
    this.start(record.timestamp);
    this.runTimers(record.timestamp, false);
    const at = Math.max(record.timestamp, this.current);
    this.current = at;
    for (const rule of this.byTopic.get(record.topic) ?? []) rule.evaluator.onRecord(record, at, this.contextFor(rule));
    this.saveMeta();
    return this.drain();
  }

  /** Lets event time pass up to `at` (a watermark), firing every timer due by then. */
  advanceTo(at: number): AlertNotification[] {
    this.start(at);
    this.runTimers(at, true);
    if (at > this.current) this.current = at;
    this.saveMeta();
    return this.drain();
  }

  /** Rebuilds alerts, rule state and timers from the store. */
  private restore(meta: StoredMeta): void {
    this.started = meta.started;
    this.current = meta.current ?? Number.NEGATIVE_INFINITY;
    this.savedCurrent = this.current;
    const perRule = new Map<string, Array<[string, unknown]>>();
    const stale: string[] = [];
    for (const [key, value] of this.store.entries()) {
      if (key.startsWith(alertKeyPrefix)) {
        const stored = value as StoredAlert;
        const rule = this.byName.get(stored.rule);
        if (!rule) {
          stale.push(key); // the rule is gone from the rules file: its alerts go quietly
          continue;
        }
        this.active.set(key.slice(alertKeyPrefix.length), {
          id: key.slice(alertKeyPrefix.length),
          rule,
          identity: { labels: stored.labels, resource: stored.resource },
          status: stored.status,
          since: stored.since,
          obs: stored.obs,
          notified: stored.notified,
          repeats: stored.repeats,
          lastSentAt: stored.lastSentAt,
          nextRepeatAt: stored.nextRepeatAt,
          generation: 0,
        });
      } else if (key.startsWith(ruleKeyPrefix)) {
        const rest = key.slice(ruleKeyPrefix.length);
        const slash = rest.indexOf('/');
        const name = rest.slice(0, slash);
        const list = perRule.get(name) ?? [];
        list.push([rest.slice(slash + 1), value]);
        perRule.set(name, list);
      }
    }
    for (const key of stale) this.store.delete(key);
    // Rule timers first: at equal times the original order is not known, and a rule timer that clears an
    // alert (end of a delivery day, gate closure) should win over that alert's repeat due at the same instant.
    if (this.started) {
      for (const rule of this.rules) {
        if (!this.clockRules && rule.evaluator.clockDriven) continue;
        rule.evaluator.restore?.(perRule.get(rule.spec.name) ?? [], this.current, this.contextFor(rule));
      }
    }
    for (const alert of this.active.values()) {
      if (alert.status === 'pending') this.scheduleFor(alert, alert.since);
      else if (alert.nextRepeatAt !== null) this.scheduleRepeatAt(alert, alert.nextRepeatAt);
    }
  }

  private saveMeta(): void {
    if (this.current === this.savedCurrent && this.store.get(metaKey) !== undefined) return;
    this.savedCurrent = this.current;
    const meta: StoredMeta = {
      v: 1,
      started: this.started,
      current: Number.isFinite(this.current) ? this.current : null,
      clockRules: this.clockRules,
    };
    this.store.put(metaKey, meta);
  }

  private save(alert: ActiveAlert): void {
    const { obs } = alert;
    const stored: StoredAlert = {
      rule: alert.rule.spec.name,
      labels: alert.identity.labels,
      resource: alert.identity.resource,
      status: alert.status,
      since: alert.since,
      obs: { ...obs, value: finiteOrNull(obs.value), threshold: finiteOrNull(obs.threshold) },
      notified: alert.notified,
      repeats: alert.repeats,
      lastSentAt: alert.lastSentAt,
      nextRepeatAt: alert.nextRepeatAt,
    };
    this.store.put(alertKeyPrefix + alert.id, stored);
  }

  private drain(): AlertNotification[] {
    return this.out.splice(0, this.out.length);
  }

  private runTimers(until: number, inclusive: boolean): void {
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined || next > until || (!inclusive && next === until)) return;
      const timer = this.timers.pop()!;
      if (timer.at > this.current) this.current = timer.at;
      timer.fire(Math.max(timer.at, this.current));
    }
  }

  private contextFor(rule: CompiledRule): EvalContext {
    let ctx = this.contexts.get(rule);
    if (ctx) return ctx;
    const prefix = `${ruleKeyPrefix}${rule.spec.name}/`;
    const state: RuleState = {
      get: (key) => this.store.get(prefix + key),
      put: (key, value) => this.store.put(prefix + key, value),
      delete: (key) => this.store.delete(prefix + key),
    };
    ctx = {
      calendar: this.calendar,
      state,
      raise: (identity, obs) => this.raise(rule, identity, obs),
      clear: (identity, at, source, message) => this.clear(rule, identity, at, source, message),
      isActive: (identity) => this.active.has(fingerprint(rule.spec.name, identity.labels)),
      schedule: (at, fire) => this.timers.schedule(at, fire),
    };
    this.contexts.set(rule, ctx);
    return ctx;
  }

  private raise(rule: CompiledRule, identity: AlertIdentity, obs: Observation): void {
    const id = fingerprint(rule.spec.name, identity.labels);
    const existing = this.active.get(id);
    if (existing) {
      existing.obs = obs;
      this.save(existing);
      return;
    }
    const alert: ActiveAlert = {
      id,
      rule,
      identity,
      status: 'pending',
      since: obs.at,
      obs,
      notified: false,
      repeats: 0,
      lastSentAt: obs.at,
      nextRepeatAt: null,
      generation: 0,
    };
    this.active.set(id, alert);
    if (rule.forMs > 0) {
      this.save(alert);
      this.scheduleFor(alert, obs.at);
    } else {
      this.fire(alert, obs.at);
    }
  }

  /** The `for` window of a pending alert: fires at `since + for` unless it cleared meanwhile. */
  private scheduleFor(alert: ActiveAlert, since: number): void {
    const generation = alert.generation;
    this.timers.schedule(since + alert.rule.forMs, (now) => {
      if (this.active.get(alert.id) === alert && alert.status === 'pending' && alert.generation === generation)
        this.fire(alert, now);
    });
  }

  private fire(alert: ActiveAlert, at: number): void {
    alert.status = 'firing';
    alert.since = at;
    this.notify(alert, 'FIRING', at, 0);
    this.scheduleRepeat(alert, at);
    this.save(alert);
  }

  private scheduleRepeat(alert: ActiveAlert, from: number): void {
    if (alert.rule.repeatMs <= 0) {
      alert.nextRepeatAt = null;
      return;
    }
    alert.nextRepeatAt = from + alert.rule.repeatMs;
    this.scheduleRepeatAt(alert, alert.nextRepeatAt);
  }

  private scheduleRepeatAt(alert: ActiveAlert, at: number): void {
    const generation = ++alert.generation;
    this.timers.schedule(at, (now) => {
      if (this.active.get(alert.id) !== alert || alert.generation !== generation) return;
      alert.repeats += 1;
      this.notify(alert, 'FIRING', now, alert.repeats);
      this.scheduleRepeat(alert, now);
      this.save(alert);
    });
  }

  private clear(rule: CompiledRule, identity: AlertIdentity, at: number, source?: SourceLink, message?: string): void {
    const id = fingerprint(rule.spec.name, identity.labels);
    const alert = this.active.get(id);
    if (!alert) return;
    this.active.delete(id);
    this.store.delete(alertKeyPrefix + id);
    alert.generation++;
    if (alert.status !== 'firing') return;
    if (source) alert.obs = { ...alert.obs, source };
    if (alert.notified) this.notify(alert, 'RESOLVED', at, 0, message);
  }

  private notify(
    alert: ActiveAlert,
    state: 'FIRING' | 'RESOLVED',
    at: number,
    repeat: number,
    resolvedMessage?: string,
  ): void {
    const { rule, identity, obs } = alert;
    const labels: Record<string, string> = { ...rule.labels, ...identity.labels };
    const routingLabels = { ...labels, rule: rule.spec.name, severity: rule.severity };
    const mutedBy = this.silencer.mutedBy(routingLabels, at);
    if (mutedBy) {
      this.stats.muted++;
      return;
    }
    if (obs.source) {
      labels.sourceTopic = obs.source.topic;
      if (obs.source.partition !== undefined) labels.sourcePartition = String(obs.source.partition);
      if (obs.source.offset !== undefined) labels.sourceOffset = obs.source.offset;
    }
    const vars = {
      ...labels,
      ...obs.vars,
      rule: rule.spec.name,
      resource: identity.resource,
      value: obs.value,
      threshold: obs.threshold,
      unit: obs.unit,
    };
    let message = rule.spec.summary ? renderTemplate(rule.spec.summary, vars) : obs.message;
    if (state === 'RESOLVED') message = resolvedMessage ?? `resolved: ${message}`;
    if (state === 'FIRING') {
      alert.notified = true;
      alert.lastSentAt = at;
      if (repeat === 0) this.stats.fired++;
      else this.stats.repeated++;
    } else this.stats.resolved++;
    this.out.push({
      at,
      repeat,
      routes: this.router.route(routingLabels),
      event: {
        alertId: alert.id,
        rule: rule.spec.name,
        severity: rule.severity.toUpperCase() as AlertEvent['severity'],
        state,
        resource: rule.spec.resource ? renderTemplate(rule.spec.resource, vars) : identity.resource,
        message,
        value: obs.value ?? null,
        threshold: obs.threshold ?? null,
        unit: obs.unit ?? null,
        occurredAt: state === 'FIRING' ? alert.since : at,
        emittedAt: this.options.emittedAt?.() ?? at,
        labels,
      },
    });
  }
}

/** Headers carrying an alert's routing to the delivery channels (connectors/alerts). */
export function routingHeaders(n: AlertNotification): Headers {
  const receivers = n.routes.flatMap((r) => r.receivers);
  return {
    'optibid-alert-id': n.event.alertId,
    'optibid-alert-state': n.event.state,
    'optibid-alert-repeat': String(n.repeat),
    'optibid-receivers': receivers.map((r) => r.name).join(','),
    'optibid-channels': [...new Set(receivers.map((r) => r.channel))].join(','),
    'optibid-group-key': n.routes.map((r) => r.groupKey).join(';'),
  };
}

/** The `alerts.events` record for a notification: keyed by alertId, timestamped with the notification's event time. */
export function toAlertRecord(n: AlertNotification, topic = 'alerts.events'): OutRecord<AlertEvent> {
  return { topic, key: n.event.alertId, value: n.event, timestamp: n.at, headers: routingHeaders(n) };
}
