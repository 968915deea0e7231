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

/** Waits for I/O progress inside the pipeline (tasks resuming); virtual time does not move meanwhile. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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

  test('clock time: the runtime timer fires absence when no input arrives at all, and repeats', async () => {
    const clock = new VirtualClock(Date.parse('2026-03-29T00:01:00Z'));
    const sink = collectingSink('alerts-out');
    const records = [reading('2026-03-29T00:00:00Z', 'bess-1'), reading('2026-03-29T00:01:00Z', 'bess-1')];
    const spec = makeSpec({
      name: 'alerting-timer',
      sources: [{ name: 'src', definition: arraySource('src', records) }],
      processors: [
        {
          name: 'alerts',
          definition: alertingProcessor,
          config: { rulesFile: rulesFile(), time: 'clock', tickInterval: '30s' },
          inputs: ['telemetry.readings'],
          outputs: ['alerts.events'],
        },
      ],
      sinks: [{ name: 'alerts-out', definition: sink, inputs: ['alerts.events'] }],
    });
    const transport = new MemoryTransport({ timerPollMs: 60_000 }); // the test runs the timers itself
    const run = await transport.start(spec, { clock });
    try {
      await until('the readings', () => run.stats().find((s) => s.name === 'alerts')!.recordsIn === 2);
      const states = () => transport.broker.records('alerts.events').map((r) => r.value as AlertEvent);
      clock.advance(4 * 60_000); // 00:05, one minute before bess-1's deadline
      await run.runTimers();
      expect(states()).toEqual([]);
      clock.advance(60_000); // 00:06
      await run.runTimers();
      expect(states().map((e) => `${e.state} ${new Date(e.occurredAt).toISOString()}`)).toEqual([
        'FIRING 2026-03-29T00:06:00.000Z',
      ]);
      expect(states()[0].emittedAt).toBe(clock.now());
      clock.advance(15_000); // inside tickInterval: the timer does not run
      await run.runTimers();
      clock.advance(3_600_000); // an hour later, still silent: one repeat
      await run.runTimers();
      const all = transport.broker.records('alerts.events');
      expect(all.map((r) => `${(r.value as AlertEvent).state} ${r.headers?.['optibid-alert-repeat'] ?? '0'}`)).toEqual([
        'FIRING 0',
        'FIRING 1',
      ]);
      await until('the sink', () => sink.records.length === 2);
    } finally {
      await run.stop();
    }
  });

  test('clock time: a market-calendar rule fires and resolves from the clock with no input ever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerting-proc-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 1h, severity: critical }',
        'receivers:',
        '  - { name: desk, channel: webhook }',
        'route:',
        '  receiver: desk',
        '',
      ].join('\n'),
    );
    // 2026-03-27 (CET, UTC+1): EPEX gate closure for delivery on the 28th is 12:00 Brussels = 11:00Z.
    const clock = new VirtualClock(Date.parse('2026-03-27T08:00:00Z'));
    const spec = makeSpec({
      name: 'alerting-calendar',
      processors: [
        {
          name: 'alerts',
          definition: alertingProcessor,
          config: { rulesFile: file, time: 'clock' },
          inputs: ['bids.signals'],
          outputs: ['alerts.events'],
        },
      ],
    });
    const transport = new MemoryTransport({ timerPollMs: 60_000 });
    const run = await transport.start(spec, { clock });
    try {
      const events = () =>
        transport.broker
          .records('alerts.events')
          .map((r) => `${(r.value as AlertEvent).state} ${new Date(r.timestamp).toISOString()}`);
      clock.set(Date.parse('2026-03-27T09:59:59Z'));
      await run.runTimers();
      expect(events()).toEqual([]);
      clock.set(Date.parse('2026-03-27T10:00:00Z'));
      await run.runTimers();
      expect(events()).toEqual(['FIRING 2026-03-27T10:00:00.000Z']);
      clock.set(Date.parse('2026-03-27T11:00:30Z'));
      await run.runTimers();
      expect(events()).toEqual(['FIRING 2026-03-27T10:00:00.000Z', 'RESOLVED 2026-03-27T11:00:00.000Z']);
      const resolved = transport.broker.records('alerts.events')[1].value as AlertEvent;
      expect(resolved.message).toMatch(/without a bid signal/);
    } finally {
      await run.stop();
    }
  });

  test('tickInterval must be a positive duration', () => {
    const ctx = {
      name: 'alerts',
      clock: new VirtualClock(),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      env: {},
      signal: new AbortController().signal,
    };
    expect(() =>
      alertingProcessor.create({ rulesFile: rulesFile(), time: 'clock', tickInterval: 'often' }, ctx),
    ).toThrow('alerting: tickInterval "often" is not a positive duration');
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
