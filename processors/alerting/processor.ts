import { Type } from '@sinclair/typebox';
import {
  OptiBidError,
  defineProcessor,
  type ProcessContext,
  type Processor,
  type StreamRecord,
} from '@optibid/runtime';
import { parseDuration } from './duration.js';
import { AlertEngine, toAlertRecord, type AlertNotification } from './engine.js';
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
    const engine = new AlertEngine(rules, { emittedAt: () => ctx.clock.now() });
    const emit = (pctx: ProcessContext, notifications: AlertNotification[]) => {
      for (const n of notifications) {
        const rec = toAlertRecord(n);
        pctx.emit({ ...rec, topic: config.outputTopic });
        const extra = new Set(n.routes.flatMap((r) => r.receivers).map((r) => config.receiverTopics?.[r.name]));
        for (const topic of extra) if (topic !== undefined) pctx.emit({ ...rec, topic });
      }
    };
    const catchUp = (pctx: ProcessContext) => {
      if (useClock) emit(pctx, engine.advanceTo(Math.max(ctx.clock.now(), engine.now)));
    };
    ctx.logger.info({ rules: rules.rules.length, topics: engine.topics }, 'alert rules loaded');
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
        emit(pctx, engine.process(record));
        catchUp(pctx);
      },
      onWatermark(watermark: number, pctx: ProcessContext) {
        if (Number.isFinite(watermark)) emit(pctx, engine.advanceTo(watermark));
        catchUp(pctx);
      },
    };
    if (useClock) {
      // Woken by the runtime on the injected clock even when no record arrives: silent devices and
      // calendar deadlines fire on time. The engine keeps its state in memory, so one call per tick
      // does the work; calls for further partitions in the same tick find nothing due.
      processor.timerIntervalMs = tickMs;
      processor.onTimer = (now: number, pctx: ProcessContext) => {
        emit(pctx, engine.advanceTo(Math.max(now, engine.now)));
      };
    }
    return processor;
  },
});
