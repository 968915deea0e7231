import type { StreamRecord } from '@optibid/runtime';
import { AlertEngine, MapEngineStore, alertKeyPrefix, metaKey, type AlertNotification } from './engine.js';
import { parseRules } from './rules-file.js';
import { rec, summary } from './test-helpers.js';

/**
 * The engine rebuilt from its store, as after a restart: every value goes through JSON on the way, as it
 * does through the Kafka changelog, so a value JSON cannot carry would show up here.
 */
function reopen(yaml: string, store: MapEngineStore): { engine: AlertEngine; store: MapEngineStore } {
  const copy = new MapEngineStore();
  for (const [k, v] of store.entries()) copy.put(k, JSON.parse(JSON.stringify(v)) as unknown);
  return { engine: new AlertEngine(parseRules(yaml, 'test.yaml'), { store: copy }), store: copy };
}

function open(yaml: string): { engine: AlertEngine; store: MapEngineStore } {
  const store = new MapEngineStore();
  return { engine: new AlertEngine(parseRules(yaml, 'test.yaml'), { store }), store };
}

type Step = StreamRecord | string; // a record, or an ISO time to advance to

/** Runs the steps on one engine, or restarting it from its store before every step. */
function runSteps(yaml: string, steps: Step[], restartEveryStep: boolean): AlertNotification[] {
  let { engine, store } = open(yaml);
  const out: AlertNotification[] = [];
  for (const step of steps) {
    if (restartEveryStep) ({ engine, store } = reopen(yaml, store));
    out.push(...(typeof step === 'string' ? engine.advanceTo(Date.parse(step)) : engine.process(step)));
  }
  return out;
}

const thresholdRules = (extra = '') => `
defaults: { repeatInterval: 30m }
rules:
  - name: hot
    kind: threshold
    topic: telemetry.readings
    keyBy: [assetId]
    field: value
    above: 80
${extra}
`;

const temp = (iso: string, value: number, assetId = 'pv-1') =>
  rec('telemetry.readings', iso, { assetId, metric: 'temperature', value, unit: 'Cel' }, assetId);

describe('engine state in a store: restarts', () => {
  test('a FIRING alert is not sent again by the engine rebuilt from the same state; its repeat keeps the old schedule', () => {
    const yaml = thresholdRules();
    const first = open(yaml);
    expect(summary(first.engine.process(temp('2026-03-29T00:00:00Z', 90)))).toEqual([
      'FIRING hot pv-1 @2026-03-29T00:00',
    ]);
    const alertKeys = [...first.store.entries()].filter(([k]) => k.startsWith(alertKeyPrefix));
    expect(alertKeys).toHaveLength(1);

    const second = reopen(yaml, first.store);
    expect(second.engine.restored).toBe(true);
    expect(second.engine.activeAlerts().map((a) => `${a.rule} ${a.status}`)).toEqual(['hot firing']);
    // Still hot after the restart: no new FIRING; the repeat comes 30m after the first FIRING, not after the restart.
    expect(summary(second.engine.process(temp('2026-03-29T00:10:00Z', 91)))).toEqual([]);
    expect(summary(second.engine.advanceTo(Date.parse('2026-03-29T00:40:00Z')))).toEqual([
      'FIRING#1 hot pv-1 @2026-03-29T00:30',
    ]);
    // The repeat carries the value seen after the restart.
    const third = reopen(yaml, second.store);
    const resolved = third.engine.process(temp('2026-03-29T00:45:00Z', 50));
    expect(summary(resolved)).toEqual(['RESOLVED hot pv-1 @2026-03-29T00:45']);
    expect(resolved[0].event.value).toBe(91);
  });

  test('a pending `for:` window continues across a restart instead of starting again', () => {
    const yaml = thresholdRules().replace('above: 80', 'above: 80\n    for: 10m');
    const first = open(yaml);
    expect(first.engine.process(temp('2026-03-29T00:00:00Z', 90))).toEqual([]);
    expect(first.engine.activeAlerts().map((a) => a.status)).toEqual(['pending']);
    const second = reopen(yaml, first.store);
    expect(second.engine.process(temp('2026-03-29T00:06:00Z', 92))).toEqual([]);
    // 10 minutes after the condition started (00:00), not after the restart or the record after it (00:16).
    expect(summary(second.engine.advanceTo(Date.parse('2026-03-29T00:10:00Z')))).toEqual([
      'FIRING hot pv-1 @2026-03-29T00:10',
    ]);

    // And a window that cleared before the restart does not fire after it.
    const cleared = open(yaml);
    cleared.engine.process(temp('2026-03-29T00:00:00Z', 90));
    cleared.engine.process(temp('2026-03-29T00:05:00Z', 50));
    expect(reopen(yaml, cleared.store).engine.advanceTo(Date.parse('2026-03-29T01:00:00Z'))).toEqual([]);
  });

  test('an absence deadline runs from the last record before the restart, and fires once', () => {
    const yaml = `
rules:
  - { name: offline, kind: absence, topic: telemetry.readings, keyBy: [assetId], after: 5m, repeatInterval: 1h }
`;
    const first = open(yaml);
    first.engine.process(temp('2026-03-29T00:00:00Z', 1));
    let next = reopen(yaml, first.store);
    expect(summary(next.engine.advanceTo(Date.parse('2026-03-29T00:05:00Z')))).toEqual([
      'FIRING offline pv-1 @2026-03-29T00:05',
    ]);
    next = reopen(yaml, next.store);
    expect(next.engine.advanceTo(Date.parse('2026-03-29T00:30:00Z'))).toEqual([]);
    next = reopen(yaml, next.store);
    const back = next.engine.process(temp('2026-03-29T00:40:00Z', 1));
    expect(summary(back)).toEqual(['RESOLVED offline pv-1 @2026-03-29T00:40']);
    // The resolution still describes the silence as it was when the alert fired.
    expect(back[0].event.message).toBe(
      'resolved: pv-1 has sent nothing on telemetry.readings for 5m (last at 2026-03-29T00:00:00.000Z)',
    );
  });

  test('RESOLVED after a restart goes out exactly once', () => {
    const yaml = thresholdRules();
    const first = open(yaml);
    first.engine.process(temp('2026-03-29T00:00:00Z', 90));
    const second = reopen(yaml, first.store);
    expect(summary(second.engine.process(temp('2026-03-29T00:05:00Z', 40)))).toEqual([
      'RESOLVED hot pv-1 @2026-03-29T00:05',
    ]);
    expect([...second.store.entries()].filter(([k]) => k.startsWith(alertKeyPrefix))).toEqual([]);
    expect(second.engine.process(temp('2026-03-29T00:06:00Z', 40))).toEqual([]);
    const third = reopen(yaml, second.store);
    expect(third.engine.process(temp('2026-03-29T00:07:00Z', 40))).toEqual([]);
    expect(third.engine.advanceTo(Date.parse('2026-03-29T03:00:00Z'))).toEqual([]);
  });

  test('silences still apply after a restart: a muted FIRING sends no RESOLVED, and the first repeat after the silence is sent', () => {
    const yaml = thresholdRules(`silences:
  - { id: s1, matchers: { assetId: pv-1 }, startsAt: "2026-03-29T00:00:00Z", endsAt: "2026-03-29T00:50:00Z" }`);
    // Muted FIRING before the restart, cleared after it: nothing at all.
    const muted = open(yaml);
    expect(muted.engine.process(temp('2026-03-29T00:10:00Z', 85))).toEqual([]);
    expect(muted.engine.stats.muted).toBe(1);
    expect(reopen(yaml, muted.store).engine.process(temp('2026-03-29T00:20:00Z', 50))).toEqual([]);

    // Muted FIRING, restart, the silence ends: the next repeat is the first notification, then one RESOLVED.
    const held = open(yaml);
    held.engine.process(temp('2026-03-29T00:10:00Z', 85));
    const after = reopen(yaml, held.store);
    const out = [...after.engine.advanceTo(Date.parse('2026-03-29T01:20:00Z'))];
    out.push(...reopen(yaml, after.store).engine.process(temp('2026-03-29T01:30:00Z', 50)));
    expect(summary(out)).toEqual(['FIRING#2 hot pv-1 @2026-03-29T01:10', 'RESOLVED hot pv-1 @2026-03-29T01:30']);
  });

  test('a maintenance window mutes the repeat due right after a restart', () => {
    const yaml = thresholdRules(`maintenance:
  - { name: night, matchers: { assetId: pv-1 }, timeZone: UTC, start: "00:20", end: "00:50" }`);
    const first = open(yaml);
    expect(summary(first.engine.process(temp('2026-03-29T00:00:00Z', 85)))).toEqual([
      'FIRING hot pv-1 @2026-03-29T00:00',
    ]);
    const second = reopen(yaml, first.store);
    expect(second.engine.advanceTo(Date.parse('2026-03-29T00:45:00Z'))).toEqual([]); // 00:30 repeat muted
    expect(second.engine.stats.muted).toBe(1);
    expect(summary(reopen(yaml, second.store).engine.advanceTo(Date.parse('2026-03-29T01:05:00Z')))).toEqual([
      'FIRING#2 hot pv-1 @2026-03-29T01:00',
    ]);
  });

  test('alerts of a rule removed from the rules file are dropped quietly on restore', () => {
    const first = open(thresholdRules());
    first.engine.process(temp('2026-03-29T00:00:00Z', 90));
    const other = `
rules:
  - { name: cold, kind: threshold, topic: telemetry.readings, keyBy: [assetId], field: value, below: -10 }
`;
    const second = reopen(other, first.store);
    expect(second.engine.activeAlerts()).toEqual([]);
    expect([...second.store.entries()].filter(([k]) => k.startsWith(alertKeyPrefix))).toEqual([]);
    expect(second.engine.process(temp('2026-03-29T00:05:00Z', 20))).toEqual([]);
  });

  test('an engine that runs no clock-driven rules keeps that across a restore, and a new store gets the option', () => {
    const yaml = `
rules:
  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 90m }
`;
    const store = new MapEngineStore();
    const engine = new AlertEngine(parseRules(yaml, 'test.yaml'), { store, clockRules: false });
    engine.start(Date.parse('2026-03-29T00:00:00Z'));
    expect(engine.advanceTo(Date.parse('2026-03-29T12:00:00Z'))).toEqual([]);
    expect(engine.skippedTopics).toEqual(['bids.signals']);
    expect((store.get(metaKey) as { clockRules: boolean }).clockRules).toBe(false);
    const restored = new AlertEngine(parseRules(yaml, 'test.yaml'), { store, clockRules: true });
    expect(restored.clockRules).toBe(false);
  });
});

describe('engine state in a store: a restart before every step changes nothing', () => {
  // Each scenario runs once on one engine and once rebuilt from its (JSON-copied) store before every
  // record and every advance; the notifications must be identical.
  const scenarios: Array<{ name: string; yaml: string; steps: Step[]; expected: number }> = [
    {
      name: 'threshold with for and repeats',
      yaml: thresholdRules().replace('above: 80', 'above: 80\n    for: 5m'),
      steps: [
        temp('2026-03-29T00:00:00Z', 85),
        temp('2026-03-29T00:03:00Z', 86),
        '2026-03-29T00:06:00Z',
        temp('2026-03-29T00:20:00Z', 87, 'pv-2'),
        '2026-03-29T01:00:00Z',
        temp('2026-03-29T01:10:00Z', 50),
        temp('2026-03-29T01:11:00Z', 50, 'pv-2'),
      ],
      expected: 7,
    },
    {
      name: 'rate of change and anomaly windows',
      yaml: `
rules:
  - { name: jump, kind: rate-of-change, topic: telemetry.readings, keyBy: [assetId], field: value, maxChange: 10 }
  - { name: odd, kind: anomaly, topic: telemetry.readings, keyBy: [assetId], field: value, window: 1h, minSamples: 5, threshold: 3.5 }
`,
      steps: [
        ...[50, 51, 49, 50, 52, 51].map((v, i) => temp(`2026-03-29T00:0${i}:00Z`, v)),
        temp('2026-03-29T00:07:00Z', 90),
        temp('2026-03-29T00:08:00Z', 51),
      ],
      expected: 3,
    },
    {
      name: 'absence with expected keys',
      yaml: `
rules:
  - name: offline
    kind: absence
    topic: telemetry.readings
    keyBy: [assetId]
    after: 5m
    repeatInterval: 20m
    expectedKeys: [{ assetId: pv-9 }]
`,
      steps: [
        temp('2026-03-29T00:00:00Z', 1),
        '2026-03-29T00:04:00Z',
        '2026-03-29T00:12:00Z',
        temp('2026-03-29T00:13:00Z', 1),
        '2026-03-29T00:40:00Z',
        temp('2026-03-29T00:41:00Z', 1, 'pv-9'),
      ],
      expected: 7,
    },
    {
      name: 'gate closure with a bid signal on one day and none on the next',
      yaml: `
rules:
  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 90m, repeatInterval: 30m }
`,
      steps: [
        '2026-03-28T00:00:00Z',
        '2026-03-28T09:45:00Z',
        rec('bids.signals', '2026-03-28T10:00:00Z', { area: 'BE', deliveryStart: Date.parse('2026-03-28T23:00:00Z') }),
        '2026-03-28T12:00:00Z',
        '2026-03-29T09:00:00Z',
        '2026-03-29T09:20:00Z',
        '2026-03-29T12:00:00Z',
      ],
      expected: 6,
    },
    {
      name: 'publication late across the 25-hour day',
      yaml: 'rules:\n  - { name: late, kind: publication-late, topic: market.prices, areas: [BE], repeatInterval: 12h }\n',
      steps: [
        '2026-10-24T00:00:00Z',
        '2026-10-24T11:30:00Z',
        '2026-10-25T00:00:00Z',
        '2026-10-25T11:30:00Z',
        '2026-10-25T12:30:00Z',
        rec('market.prices', '2026-10-25T13:00:00Z', {
          area: 'BE',
          market: 'EPEX',
          deliveryStart: Date.parse('2026-10-25T23:00:00Z'),
          price: 50,
        }),
        '2026-10-26T00:00:00Z',
      ],
      expected: 6,
    },
    {
      name: 'forecast band',
      yaml: 'rules:\n  - { name: band, kind: forecast-band }\n',
      steps: [
        rec('forecasts.prices', '2026-03-29T10:00:00Z', {
          market: 'EPEX',
          area: 'BE',
          deliveryStart: Date.parse('2026-03-30T10:00:00Z'),
          price: 50,
          model: 'lear',
          quantiles: [
            { probability: 0.1, price: 40 },
            { probability: 0.9, price: 60 },
          ],
        }),
        rec('market.prices', '2026-03-29T11:00:00Z', {
          market: 'EPEX',
          area: 'BE',
          deliveryStart: Date.parse('2026-03-30T10:00:00Z'),
          price: 75,
          currency: 'EUR',
        }),
        rec('forecasts.prices', '2026-03-29T10:00:00Z', {
          market: 'EPEX',
          area: 'BE',
          deliveryStart: Date.parse('2026-03-30T11:00:00Z'),
          price: 50,
          model: 'lear',
          quantiles: [
            { probability: 0.1, price: 40 },
            { probability: 0.9, price: 60 },
          ],
        }),
        rec('market.prices', '2026-03-29T11:00:00Z', {
          market: 'EPEX',
          area: 'BE',
          deliveryStart: Date.parse('2026-03-30T11:00:00Z'),
          price: 55,
          currency: 'EUR',
        }),
      ],
      expected: 2,
    },
  ];

  test.each(scenarios)('$name', ({ yaml, steps, expected }) => {
    const straight = runSteps(yaml, steps, false);
    const restarted = runSteps(yaml, steps, true);
    expect(straight).toHaveLength(expected);
    expect(restarted.map((n) => ({ ...n.event, at: n.at, repeat: n.repeat }))).toEqual(
      straight.map((n) => ({ ...n.event, at: n.at, repeat: n.repeat })),
    );
  });
});
