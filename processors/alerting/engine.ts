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
import type { AlertIdentity, EvalContext, Observation, RuleEvaluator, SourceLink } from './rules/types.js';
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
  generation: number;
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
  private readonly rules: CompiledRule[];
  private readonly byTopic = new Map<string, CompiledRule[]>();
  private readonly timers = new TimerQueue();
  private readonly active = new Map<string, ActiveAlert>();
  private readonly router: Router;
  private readonly silencer: Silencer;
  private readonly out: AlertNotification[] = [];
  private current = Number.NEGATIVE_INFINITY;
  private started = false;

  constructor(
    file: RulesFile,
    private readonly options: EngineOptions = {},
  ) {
    this.calendar = new MarketCalendar(file.markets);
    this.router = new Router(file.route, file.receivers);
    this.silencer = new Silencer(file.silences, file.maintenance);
    const d = file.defaults;
    this.rules = file.rules.map((spec) => ({
      spec,
      evaluator: createEvaluator(spec),
      severity: spec.severity ?? d.severity ?? 'warning',
      labels: { ...d.labels, ...spec.labels },
      forMs: parseDuration(spec.for ?? d.for ?? '0s') ?? 0,
      repeatMs: parseDuration(spec.repeatInterval ?? d.repeatInterval ?? '4h') ?? 0,
    }));
    for (const rule of this.rules) {
      for (const topic of rule.evaluator.topics) {
        const list = this.byTopic.get(topic) ?? [];
        list.push(rule);
        this.byTopic.set(topic, list);
      }
    }
  }

  /** Current event time of the engine. */
  get now(): number {
    return this.current;
  }

  /** Topics any rule reads. */
  get topics(): string[] {
    return [...this.byTopic.keys()];
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

  /** Starts the clock at `at` if it has not started (calendar rules schedule their first occurrences from here). */
  start(at: number): void {
    if (this.started) return;
    this.started = true;
    this.current = at;
    for (const rule of this.rules) rule.evaluator.start?.(at, this.contextFor(rule));
  }

  /** Handles one record at its event time; timers due strictly before it fire first. */
  process(record: StreamRecord): AlertNotification[] {
    this.start(record.timestamp);
    this.runTimers(record.timestamp, false);
    const at = Math.max(record.timestamp, this.current);
    this.current = at;
    for (const rule of this.byTopic.get(record.topic) ?? []) rule.evaluator.onRecord(record, at, this.contextFor(rule));
    return this.drain();
  }

  /** Lets event time pass up to `at` (a watermark), firing every timer due by then. */
  advanceTo(at: number): AlertNotification[] {
    this.start(at);
    this.runTimers(at, true);
    if (at > this.current) this.current = at;
    return this.drain();
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
    return {
      calendar: this.calendar,
      raise: (identity, obs) => this.raise(rule, identity, obs),
      clear: (identity, at, source, message) => this.clear(rule, identity, at, source, message),
      isActive: (identity) => this.active.has(fingerprint(rule.spec.name, identity.labels)),
      schedule: (at, fire) => this.timers.schedule(at, fire),
    };
  }

  private raise(rule: CompiledRule, identity: AlertIdentity, obs: Observation): void {
    const id = fingerprint(rule.spec.name, identity.labels);
    const existing = this.active.get(id);
    if (existing) {
      existing.obs = obs;
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
      generation: 0,
    };
    this.active.set(id, alert);
    if (rule.forMs > 0) {
      const generation = alert.generation;
      this.timers.schedule(obs.at + rule.forMs, (now) => {
        if (this.active.get(id) === alert && alert.status === 'pending' && alert.generation === generation)
          this.fire(alert, now);
      });
    } else {
      this.fire(alert, obs.at);
    }
  }

  private fire(alert: ActiveAlert, at: number): void {
    alert.status = 'firing';
    alert.since = at;
    this.notify(alert, 'FIRING', at, 0);
    this.scheduleRepeat(alert, at);
  }

  private scheduleRepeat(alert: ActiveAlert, from: number): void {
    if (alert.rule.repeatMs <= 0) return;
    const generation = ++alert.generation;
    this.timers.schedule(from + alert.rule.repeatMs, (now) => {
      if (this.active.get(alert.id) !== alert || alert.generation !== generation) return;
      alert.repeats += 1;
      this.notify(alert, 'FIRING', now, alert.repeats);
      this.scheduleRepeat(alert, now);
    });
  }

  private clear(rule: CompiledRule, identity: AlertIdentity, at: number, source?: SourceLink, message?: string): void {
    const id = fingerprint(rule.spec.name, identity.labels);
    const alert = this.active.get(id);
    if (!alert) return;
    this.active.delete(id);
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
