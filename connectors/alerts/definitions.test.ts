import { Value } from '@sinclair/typebox/value';
import { ComponentRegistry } from '@optibid/runtime';
import { clickhouseSink } from '../clickhouse/sink.js';
import { timescaleSink } from '../timescale/sink.js';
import { emailSink } from './email.js';
import { kafkaAlertsSink } from './kafka.js';
import { mqttPublishSink } from './mqtt.js';
import { slackSink } from './slack.js';
import { webhookSink } from './webhook.js';

const sinks = [timescaleSink, clickhouseSink, webhookSink, slackSink, emailSink, mqttPublishSink, kafkaAlertsSink];

test('the sinks register under their documented ids, as sinks', () => {
  const registry = new ComponentRegistry(sinks);
  expect(registry.list('sink').map((d) => d.name)).toEqual([
    'clickhouse',
    'email',
    'kafka-alerts',
    'mqtt-publish',
    'slack',
    'timescale',
    'webhook',
  ]);
});

test.each([
  [timescaleSink, { dataset: 'market.prices' }],
  [clickhouseSink, { dataset: 'telemetry.readings', lingerMs: 200 }],
  [webhookSink, { url: 'https://hooks.example.com/optibid', secret: 'x', maxAttempts: 3 }],
  [slackSink, { url: 'https://hooks.slack.com/services/T/B/X' }],
  [emailSink, { host: 'smtp.example.com', from: 'alerts@example.com', to: ['desk@example.com'] }],
  [mqttPublishSink, { topic: 'site/alerts/{severity}' }],
  [kafkaAlertsSink, { topic: 'alerts.outbound' }],
])('%#: a minimal config is valid once defaults are applied', (def, config) => {
  const withDefaults = Value.Default(def.config, structuredClone(config));
  expect([...Value.Errors(def.config, withDefaults)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
});

test('unknown keys and wrong types are config errors', () => {
  expect(
    Value.Check(timescaleSink.config, {
      dataset: 'market.prices',
      schema: 'public',
      maxBatchRows: 1,
      poolSize: 1,
      migrate: false,
      partitioning: 'auto',
      tabel: 'x',
    }),
  ).toBe(false);
  expect(Value.Check(timescaleSink.config, Value.Default(timescaleSink.config, { dataset: 'weather' }))).toBe(false);
  expect(
    Value.Check(webhookSink.config, Value.Default(webhookSink.config, { url: 'https://x.example', maxAttempts: 0 })),
  ).toBe(false);
  expect(Value.Check(webhookSink.config, Value.Default(webhookSink.config, { url: 'ftp://x.example' }))).toBe(false);
});
