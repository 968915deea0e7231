import { Type } from '@sinclair/typebox';
import {
  OptiBidError,
  defineProcessor,
  type KeyValueStore,
  type ProcessContext,
  type Processor,
  type StreamRecord,
} from '@optibid/runtime';
import { parseDuration } from './duration.js';
import { AlertEngine, metaKey, toAlertRecord, type AlertNotification } from './engine.js';
import { loadRulesFile } from './rules-file.js';

export const AlertingConfig = Type.Object(
  {
    rulesFile: Type.String({
      description: 'Path of the YAML rules file (rules, markets, receivers, route, silences, maintenance).',
    }),
    time: Type.Optional(
      Type.Union([Type.Literal('event'), Type.Literal('clock')], {
        default: 'event',
        description:
          'event: time advances with record event times and watermarks (replays, backfills). clock: time also follows the injected clock, on every record and watermark and on a runtime timer every `tickInterval`, so absence and calendar rules fire while no input arrives at all (live).',
      }),
    ),
    tickInterval: Type.Optional(
      Type.String({
        default: '1s',
        description:
          'time: clock only: how often the runtime wakes the rules on the injected clock when no input arrives (duration such as 1s, 30s, 1m).',
      }),
    ),
    outputTopic: Type.Optional(
      Type.String({ description: "Topic for alert events; default: the processor's first output (alerts.events)." }),
    ),
    receiverTopics: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Receiver name → topic: each event routed to that receiver is also emitted there (list the topics in outputs), so a channel sink reading that topic delivers exactly what the routing tree sends it.',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The `alerting` processor: evaluates a YAML rules file over its input topics and emits
 * `alerts.events` records (FIRING, repeats, RESOLVED), keyed by alertId, with routing headers.
 * The rules file is read and validated when the processor is created, so a bad file stops the
 * pipeline at start with `FILE:LINE:COL message`.
 */
export const alertingProcessor = defineProcessor({
  name: 'alerting',
  status: 'beta',
  summary:
    'Alert rules from YAML (threshold, rate of change, anomaly, absence, market calendar, device limits) with Alertmanager-style lifecycle and routing',
  config: AlertingConfig,
  create(config, ctx) {
    const rules = loadRulesFile(config.rulesFile);
    const known = new Set(rules.receivers.map((r) => r.name));
    for (const name of Object.keys(config.receiverTopics ?? {})) {
      if (!known.has(name)) {
        throw new OptiBidError(
          'OPTIBID_ERR_CONFIG',
          `alerting: receiverTopics names "${name}", which ${config.rulesFile} does not define (receivers: ${[...known].join(', ') || 'none'})`,
          {
            context: { file: config.rulesFile },
          },
        );
      }
    }
    const useClock = config.time === 'clock';
    const tickMs = parseDuration(config.tickInterval ?? '1s');
    if (tickMs === undefined || tickMs <= 0) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `alerting: tickInterval "${config.tickInterval}" is not a positive duration (examples: 500ms, 1s, 1m)`,
      );
    }
    const emittedAt = () => ctx.clock.now();
    // One engine per input partition, whose whole state (alerts, `for` windows, repeat schedules, rule
    // state, timers) lives in that partition's `ctx.state`: the runtime changelogs it on Kafka and restores
    // it on restart and rebalance, so an alert's state moves with its key's partition. Engines are found
    // by the store object: a store the runtime drops (revoked partition, aborted transaction) takes its
    // engine with it, and a restored store gets an engine rebuilt from its contents.
    const engines = new WeakMap<object, AlertEngine>();
    // Before any record the runtime has no partition state (timer calls get a context whose writes are
    // dropped): the clock-driven rules run in this in-memory engine until input partition 0's store
    // adopts it. It is also advanced by timer and watermark calls on other partitions meanwhile.
    let unbound: AlertEngine | undefined;
    // Set once an engine bound to a store runs the clock-driven rules (partition 0's); after that this
    // process never starts an in-memory one again (partition 0 may have moved to another worker).
    let homeBound = false;
    const warned = new Set<string>();
    const fresh = (store: KeyValueStore, clockRules: boolean) =>
      new AlertEngine(rules, { emittedAt, store, clockRules });
    /** The engine of the partition `pctx` belongs to; `partition` is known on records only. */
    const engineOf = (pctx: ProcessContext, partition?: number): AlertEngine | undefined => {
      const store = pctx.state;
      const known = engines.get(store);
      if (known) return known;
      if (store.get(metaKey) !== undefined) {
        const restored = fresh(store, false); // clockRules come from the store
        engines.set(store, restored);
        // Partition 0's restored engine runs the clock-driven rules from now on.
        if (restored.clockRules) {
          unbound = undefined;
          homeBound = true;
        }
        ctx.logger.info(
          { partition, alerts: restored.activeAlerts().length, clockRules: restored.clockRules },
          'alert engine restored from state',
        );
        return restored;
      }
      if (partition === undefined) return undefined; // an empty store outside `process`: nothing to run yet
      let engine: AlertEngine;
      if (partition === 0 && unbound) {
        unbound.moveTo(store);
        engine = unbound;
        unbound = undefined;
      } else engine = fresh(store, partition === 0);
      if (engine.clockRules) homeBound = true;
      engines.set(store, engine);
      return engine;
    };
    /** Runs `fn` on an engine; if it throws, forgets the engine so the next call rebuilds it from the rolled-back state. */
    const guarded = (pctx: ProcessContext, engine: AlertEngine, fn: (e: AlertEngine) => AlertNotification[]) => {
      try {
        emit(pctx, fn(engine));
      } catch (err) {
        if (engine === unbound) unbound = undefined;
        else engines.delete(pctx.state);
        throw err;
      }
    };
    const emit = (pctx: ProcessContext, notifications: AlertNotification[]) => {
      for (const n of notifications) {
        const rec = toAlertRecord(n);
        pctx.emit({ ...rec, topic: config.outputTopic });
        const extra = new Set(n.routes.flatMap((r) => r.receivers).map((r) => config.receiverTopics?.[r.name]));
        for (const topic of extra) if (topic !== undefined) pctx.emit({ ...rec, topic });
      }
    };
    /** Advances the partition's engine (and the unbound one, if any) to `at`. */
    const advance = (pctx: ProcessContext, at: (e: AlertEngine) => number) => {
      const engine = engineOf(pctx);
      if (engine) guarded(pctx, engine, (e) => e.advanceTo(at(e)));
      // A worker the runtime did not give partition 0 leaves the calendar rules to the one it did.
      if (pctx.assignedPartitions && !pctx.assignedPartitions.includes(0)) return;
      if (unbound || (useClock && !homeBound)) {
        unbound ??= new AlertEngine(rules, { emittedAt, clockRules: true });
        guarded(pctx, unbound, (e) => e.advanceTo(at(e)));
      }
    };
    const catchUp = (pctx: ProcessContext) => {
      if (useClock) advance(pctx, (e) => Math.max(ctx.clock.now(), e.now));
    };
    const probe = new AlertEngine(rules);
    ctx.logger.info({ rules: rules.rules.length, topics: probe.topics }, 'alert rules loaded');
    const processor: Processor = {
      process(record: StreamRecord, pctx: ProcessContext) {
        if (record.value === null || typeof record.value !== 'object' || Array.isArray(record.value)) {
          throw new OptiBidError(
            'OPTIBID_ERR_DECODE',
            `alerting: the value of a ${record.topic} record is not an object, so no rule can read its fields`,
            {
              context: { topic: record.topic, partition: record.partition, offset: record.offset },
            },
          );
        }
        const partition = record.partition ?? 0;
        const engine = engineOf(pctx, partition)!;
        if (!warned.has(record.topic) && engine.skippedTopics.includes(record.topic)) {
          warned.add(record.topic);
          ctx.logger.warn(
            { topic: record.topic, partition },
            'alerting: calendar rules run on input partition 0 only; records of their topics on other partitions are ignored (give those topics one partition)',
          );
        }
        guarded(pctx, engine, (e) => e.process(record));
        catchUp(pctx);
      },
      onWatermark(watermark: number, pctx: ProcessContext) {
        if (Number.isFinite(watermark)) {
          const engine = engineOf(pctx);
          if (engine) guarded(pctx, engine, (e) => e.advanceTo(watermark));
        }
        catchUp(pctx);
      },
    };
    processor.onAssign = (partitions: readonly number[]) => {
      // Partition 0 went elsewhere: its worker runs the calendar rules, so this one drops its in-memory engine.
      if (!partitions.includes(0)) unbound = undefined;
    };
    if (useClock) {
      // Woken by the runtime on the injected clock even when no record arrives: silent devices and
      // calendar deadlines fire on time. Called once per input partition store, so each partition's
      // engine advances on its own state.
      processor.timerIntervalMs = tickMs;
      processor.onTimer = (now: number, pctx: ProcessContext) => {
        advance(pctx, (e) => Math.max(now, e.now));
      };
    }
    return processor;
  },
});
