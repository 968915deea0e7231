import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTransport, VirtualClock, arraySource, collectingSink, makeSpec, type OutRecord } from '@optibid/runtime';
import type { AlertEvent } from './engine.js';
import { alertingProcessor } from './processor.js';

const rulesYaml = `
rules:
  - name: offline
    kind: absence
    topic: telemetry.readings
    keyBy: [assetId]
    after: 5m
    severity: critical
    repeatInterval: 1h
receivers:
  - { name: ops-hook, channel: webhook }
route:
  receiver: ops-hook
`;

function rulesFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'alerting-proc-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, rulesYaml);
  return file;
}

const reading = (iso: string, assetId: string): OutRecord => ({
  topic: 'telemetry.readings',
  key: assetId,
  timestamp: Date.parse(iso),
  value: {
    assetId,
    metric: 'active_power',
    value: 1,
    unit: 'MW',
    observedAt: Date.parse(iso),
    receivedAt: Date.parse(iso),
  },
});

async function runPipeline(
  records: OutRecord[],
  config: Record<string, unknown>,
  clock = new VirtualClock(Date.parse('2026-03-29T00:00:00Z')),
) {
  const sink = collectingSink('alerts-out');
  const spec = makeSpec({
    name: 'alerting-test',
    sources: [{ name: 'src', definition: arraySource('src', records, { batchSize: 3 }) }],
    processors: [
      {
        name: 'alerts',
        definition: alertingProcessor,
        config,
        inputs: ['telemetry.readings'],
        outputs: ['alerts.events'],
      },
    ],
    sinks: [{ name: 'alerts-out', definition: sink, inputs: ['alerts.events'] }],
  });
  const run = await new MemoryTransport().start(spec, { clock, untilIdle: true });
  await run.done;
  return { sink, stats: run.stats() };
}

describe('alerting processor on the memory transport', () => {
  test('event time: a device that goes quiet fires at its deadline and resolves when it comes back, once each', async () => {
    const records = [
      reading('2026-03-29T00:00:00Z', 'bess-1'),
      reading('2026-03-29T00:01:00Z', 'bess-1'),
      reading('2026-03-29T00:02:00Z', 'bess-2'),
      reading('2026-03-29T00:30:00Z', 'bess-1'),
      reading('2026-03-29T00:31:00Z', 'bess-2'),
    ];
    const { sink } = await runPipeline(records, { rulesFile: rulesFile() });
    const events = sink.records.map((r) => ({ at: new Date(r.timestamp).toISOString(), ...(r.value as AlertEvent) }));
    expect(events.map((e) => `${e.state} ${e.resource} ${e.at}`)).toEqual([
      'FIRING bess-1 2026-03-29T00:06:00.000Z',
      'FIRING bess-2 2026-03-29T00:07:00.000Z',
      'RESOLVED bess-1 2026-03-29T00:30:00.000Z',
      'RESOLVED bess-2 2026-03-29T00:31:00.000Z',
    ]);
    expect(sink.records[0].key).toBe(events[0].alertId);
    expect(sink.records[0].headers).toMatchObject({ 'optibid-receivers': 'ops-hook', 'optibid-channels': 'webhook' });
    expect(events[0]).toMatchObject({
      rule: 'offline',
      severity: 'CRITICAL',
      labels: { assetId: 'bess-1', sourceTopic: 'telemetry.readings' },
    });
  });

  test('clock time: the injected clock drives absence even when the watermark lags', async () => {
    // The clock is 10 minutes past bess-1's last reading when bess-2's record arrives.
    const clock = new VirtualClock(Date.parse('2026-03-29T00:11:00Z'));
    const records = [reading('2026-03-29T00:00:00Z', 'bess-1'), reading('2026-03-29T00:00:30Z', 'bess-2')];
    const { sink } = await runPipeline(records, { rulesFile: rulesFile(), time: 'clock' }, clock);
    const events = sink.records.map((r) => r.value as AlertEvent);
    expect(events.map((e) => `${e.state} ${e.resource} ${new Date(e.occurredAt).toISOString()}`)).toEqual([
      'FIRING bess-1 2026-03-29T00:05:00.000Z',
    ]);
    expect(events[0].emittedAt).toBe(clock.now());
  });

  test('a record whose value is not an object goes to the dead-letter topic and the pipeline keeps going', async () => {
    const bad: OutRecord = {
      topic: 'telemetry.readings',
      key: 'x',
      timestamp: Date.parse('2026-03-29T00:00:10Z'),
      value: 'garbage',
    };
    const { sink, stats } = await runPipeline(
      [reading('2026-03-29T00:00:00Z', 'bess-1'), bad, reading('2026-03-29T00:20:00Z', 'bess-1')],
      { rulesFile: rulesFile() },
    );
    expect(stats.find((s) => s.name === 'alerts')).toMatchObject({ dlq: 1 });
    expect(sink.records.map((r) => (r.value as AlertEvent).state)).toEqual(['FIRING', 'RESOLVED']);
  });

  test('a rules file that does not validate stops the pipeline at start with FILE:LINE:COL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerting-proc-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'rules:\n  - name: x\n    kind: absence\n    topic: t\n    after: soon\n');
    const ctx = {
      name: 'alerts',
      clock: new VirtualClock(),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      env: {},
      signal: new AbortController().signal,
    };
    expect(() => alertingProcessor.create({ rulesFile: file }, ctx)).toThrow(
      `${file}:5:12 after: "soon" is not a duration (e.g. 30s, 5m, 1h)`,
    );
  });

  test('receiverTopics fans each event out to the topics of the receivers the routing tree picked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerting-proc-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - { name: offline, kind: absence, topic: telemetry.readings, keyBy: [assetId], after: 5m }',
        'receivers:',
        '  - { name: ops-hook, channel: webhook }',
        '  - { name: field-chat, channel: slack }',
        'route:',
        '  receiver: ops-hook',
        '  routes:',
        '    - { match: { assetId: bess-2 }, receiver: field-chat }',
        '',
      ].join('\n'),
    );
    const hook = collectingSink('hook');
    const chat = collectingSink('chat');
    const spec = makeSpec({
      name: 'alerting-fanout',
      sources: [
        {
          name: 'src',
          definition: arraySource('src', [
            reading('2026-03-29T00:00:00Z', 'bess-1'),
            reading('2026-03-29T00:00:00Z', 'bess-2'),
            reading('2026-03-29T00:10:00Z', 'bess-3'),
          ]),
        },
      ],
      processors: [
        {
          name: 'alerts',
          definition: alertingProcessor,
          config: {
            rulesFile: file,
            receiverTopics: { 'ops-hook': 'alerts.ops-hook', 'field-chat': 'alerts.field-chat' },
          },
          inputs: ['telemetry.readings'],
          outputs: ['alerts.events', 'alerts.ops-hook', 'alerts.field-chat'],
        },
      ],
      sinks: [
        { name: 'hook', definition: hook, inputs: ['alerts.ops-hook'] },
        { name: 'chat', definition: chat, inputs: ['alerts.field-chat'] },
      ],
    });
    const run = await new MemoryTransport().start(spec, { clock: new VirtualClock(), untilIdle: true });
    await run.done;
    expect(hook.records.map((r) => (r.value as AlertEvent).resource)).toEqual(['bess-1']);
    expect(chat.records.map((r) => (r.value as AlertEvent).resource)).toEqual(['bess-2']);
    const ctx = {
      name: 'alerts',
      clock: new VirtualClock(),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      env: {},
      signal: new AbortController().signal,
    };
    expect(() => alertingProcessor.create({ rulesFile: file, receiverTopics: { pager: 'alerts.pager' } }, ctx)).toThrow(
      /receiverTopics names "pager"/,
    );
  });
});
