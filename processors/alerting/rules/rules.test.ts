import { robustZ } from './anomaly.js';
import { engineFor, rec, run, summary } from '../test-helpers.js';

const price = (iso: string, area: string, deliveryIso: string, p: number, market = 'EPEX') =>
  rec('market.prices', iso, {
    market,
    area,
    product: 'DAY_AHEAD',
    deliveryStart: Date.parse(deliveryIso),
    intervalMinutes: 60,
    price: p,
    currency: 'EUR',
  });
const bid = (iso: string, area: string, deliveryIso: string, market = 'EPEX') =>
  rec('bids.signals', iso, {
    signalId: 'x',
    market,
    area,
    deliveryStart: Date.parse(deliveryIso),
    intervalMinutes: 60,
    side: 'SELL',
    quantityMw: 1,
  });
const reading = (iso: string, assetId: string, metric: string, value: number, unit = '%') =>
  rec('telemetry.readings', iso, { assetId, metric, value, unit }, assetId);

describe('absence', () => {
  const rules = `
rules:
  - name: offline
    kind: absence
    topic: telemetry.readings
    keyBy: [assetId]
    after: 5m
    repeatInterval: 1h
    expectedKeys: [{ assetId: never-seen }]
`;

  test('fires at last reading + after, exactly once, and resolves when the device reports again', () => {
    const engine = engineFor(rules);
    const out = run(
      engine,
      [
        reading('2026-10-25T00:00:00Z', 'bess-1', 'state_of_charge', 50),
        reading('2026-10-25T00:04:00Z', 'bess-1', 'state_of_charge', 50),
        reading('2026-10-25T00:20:00Z', 'bess-1', 'state_of_charge', 50),
        reading('2026-10-25T00:22:00Z', 'bess-1', 'state_of_charge', 50),
      ],
      '2026-10-25T00:26:59Z',
    );
    expect(summary(out).filter((s) => s.includes('bess-1'))).toEqual([
      'FIRING offline bess-1 @2026-10-25T00:09',
      'RESOLVED offline bess-1 @2026-10-25T00:20',
    ]);
    expect(out.find((n) => n.event.resource === 'bess-1')!.event).toMatchObject({
      value: 300,
      threshold: 300,
      unit: 's',
    });
    // Expected keys that never report alert from the start.
    expect(summary(out).filter((s) => s.includes('never-seen'))).toEqual([
      'FIRING offline never-seen @2026-10-25T00:05',
    ]);
  });

  test('a reading arriving exactly at the deadline keeps the device online', () => {
    const out = run(
      engineFor(rules.replace('    expectedKeys: [{ assetId: never-seen }]\n', '')),
      [
        reading('2026-03-29T00:55:00Z', 'bess-1', 'state_of_charge', 50),
        reading('2026-03-29T01:00:00Z', 'bess-1', 'state_of_charge', 50),
      ],
      '2026-03-29T01:04:59Z',
    );
    expect(out).toEqual([]);
  });

  test('a redelivered old reading (at-least-once refetch after the alert fired) does not resolve it; the next real one does', () => {
    const engine = engineFor(rules.replace('    expectedKeys: [{ assetId: never-seen }]\n', ''));
    const first = reading('2026-03-29T00:55:00Z', 'bess-1', 'state_of_charge', 50);
    const last = reading('2026-03-29T00:57:00Z', 'bess-1', 'state_of_charge', 50);
    const out = run(engine, [first, last], '2026-03-29T01:02:00Z');
    out.push(...engine.process({ ...last }), ...engine.process({ ...first })); // the same records again
    out.push(...engine.advanceTo(Date.parse('2026-03-29T01:03:00Z')));
    out.push(...engine.process(reading('2026-03-29T01:03:00Z', 'bess-1', 'state_of_charge', 50)));
    expect(summary(out)).toEqual([
      'FIRING offline bess-1 @2026-03-29T01:02',
      'RESOLVED offline bess-1 @2026-03-29T01:03',
    ]);
  });
});

describe('threshold, rate of change and anomaly', () => {
  test('threshold below a floor, per key', () => {
    const out = run(
      engineFor(
        'rules:\n  - { name: low, kind: threshold, topic: market.prices, field: price, keyBy: [area], below: 10 }\n',
      ),
      [
        price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T00:00:00Z', 12),
        price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T01:00:00Z', 9.5),
        price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T02:00:00Z', 8),
        price('2026-03-29T10:01:00Z', 'BE', '2026-03-30T03:00:00Z', 10),
      ],
    );
    expect(summary(out)).toEqual(['FIRING low BE @2026-03-29T10:00', 'RESOLVED low BE @2026-03-29T10:01']);
    expect(out[0].event.value).toBe(9.5);
  });

  test('rate of change per hour of event time, upward only', () => {
    const rules =
      'rules:\n  - { name: ramp, kind: rate-of-change, topic: telemetry.readings, keyBy: [assetId], field: value, maxChange: 60, per: 1h, direction: up }\n';
    const out = run(engineFor(rules), [
      reading('2026-03-29T00:00:00Z', 'b', 'active_power', 0),
      reading('2026-03-29T00:30:00Z', 'b', 'active_power', 25), // 50/h
      reading('2026-03-29T00:40:00Z', 'b', 'active_power', 40), // 90/h: fires
      reading('2026-03-29T00:50:00Z', 'b', 'active_power', 10), // −180/h, downward: not a breach, clears
    ]);
    expect(summary(out)).toEqual(['FIRING ramp b @2026-03-29T00:40', 'RESOLVED ramp b @2026-03-29T00:50']);
    expect(out[0].event.value).toBeCloseTo(90, 9);
  });

  test('robust z-score: 0.6745·(x − median)/MAD, with a mean-deviation fallback when MAD is 0', () => {
    // median 3, deviations [2,1,0,1,2] → MAD 1.
    expect(robustZ([1, 2, 3, 4, 5], 7).z).toBeCloseTo(0.6745 * 4, 9);
    // MAD 0: mean absolute deviation (0.2) scaled by 1.2533.
    expect(robustZ([5, 5, 5, 5, 6], 7).z).toBeCloseTo(2 / (1.2533 * 0.2), 9);
    expect(robustZ([5, 5, 5], 5).z).toBe(0);
    expect(robustZ([5, 5, 5], 4).z).toBe(Number.NEGATIVE_INFINITY);
  });

  test('anomaly fires on a spike against the rolling window and ignores samples older than the window', () => {
    const rules =
      'rules:\n  - { name: odd, kind: anomaly, topic: market.prices, field: price, keyBy: [area], window: 6h, minSamples: 5, threshold: 3.5 }\n';
    const series = [50, 52, 49, 51, 50, 53, 48, 300, 51, 50];
    const records = series.map((p, h) =>
      price(
        `2026-03-29T${String(h).padStart(2, '0')}:00:00Z`,
        'BE',
        `2026-03-30T${String(h).padStart(2, '0')}:00:00Z`,
        p,
      ),
    );
    const out = run(engineFor(rules), records);
    expect(summary(out)).toEqual(['FIRING odd BE @2026-03-29T07:00', 'RESOLVED odd BE @2026-03-29T08:00']);
    expect(out[0].event.value).toBe(300);
    // With a 1h window only one earlier sample is ever in it: below minSamples, never scored.
    expect(run(engineFor(rules.replace('window: 6h', 'window: 1h')), records)).toEqual([]);
  });
});

describe('market calendar rules on DST days', () => {
  const gate = `
rules:
  - name: no-bids
    kind: gate-closure
    areas: [BE, PJM-RTO]
    lead: 90m
`;

  test('EPEX gate closure warning on 2026-03-29 (23-hour day) and 2026-10-25 (25-hour day), in UTC', () => {
    const engine = engineFor(gate.replace('[BE, PJM-RTO]', '[BE]'));
    engine.start(Date.parse('2026-03-29T00:00:00Z'));
    const spring = engine.advanceTo(Date.parse('2026-03-29T12:00:00Z'));
    // Gate closure for delivery 2026-03-30 is 12:00 CEST = 10:00 UTC; warning 90 minutes earlier.
    expect(summary(spring)).toEqual([
      'FIRING no-bids EPEX/BE @2026-03-29T08:30',
      'RESOLVED no-bids EPEX/BE @2026-03-29T10:00',
    ]);
    expect(spring[0].event.labels.deliveryDay).toBe('2026-03-30');
    expect(spring[1].event.message).toBe('EPEX BE: gate closed for delivery 2026-03-30 without a bid signal');

    const autumn = engineFor(gate.replace('[BE, PJM-RTO]', '[BE]'));
    autumn.start(Date.parse('2026-10-25T00:00:00Z'));
    // Delivery 2026-10-26: gate closure 12:00 CET on the 25-hour day = 11:00 UTC.
    expect(summary(autumn.advanceTo(Date.parse('2026-10-25T12:00:00Z')))).toEqual([
      'FIRING no-bids EPEX/BE @2026-10-25T09:30',
      'RESOLVED no-bids EPEX/BE @2026-10-25T11:00',
    ]);
  });

  test('a bid signal for the delivery day resolves the warning; one that arrives before it prevents it', () => {
    const engine = engineFor(gate.replace('[BE, PJM-RTO]', '[BE]'));
    const out = run(
      engine,
      [
        bid('2026-03-28T06:00:00Z', 'BE', '2026-03-28T23:00:00Z'), // delivery 2026-03-29 (local), closes 2026-03-28 11:00 UTC
        bid('2026-03-29T09:00:00Z', 'BE', '2026-03-29T22:00:00Z'), // delivery 2026-03-30 (local, CEST)
      ],
      '2026-03-29T12:00:00Z',
    );
    expect(summary(out)).toEqual([
      'FIRING no-bids EPEX/BE @2026-03-29T08:30',
      'RESOLVED no-bids EPEX/BE @2026-03-29T09:00',
    ]);
    expect(out[1].event.labels.sourceTopic).toBe('bids.signals');
  });

  test('PJM 10:30 ET gate closure on the US DST days 2026-03-08 and 2026-11-01', () => {
    const spring = engineFor(gate.replace('[BE, PJM-RTO]', '[PJM-RTO]'));
    spring.start(Date.parse('2026-03-08T00:00:00Z'));
    expect(summary(spring.advanceTo(Date.parse('2026-03-08T20:00:00Z')))).toEqual([
      'FIRING no-bids PJM/PJM-RTO @2026-03-08T13:00', // 10:30 EDT = 14:30 UTC
      'RESOLVED no-bids PJM/PJM-RTO @2026-03-08T14:30',
    ]);
    const autumn = engineFor(gate.replace('[BE, PJM-RTO]', '[PJM-RTO]'));
    autumn.start(Date.parse('2026-11-01T00:00:00Z'));
    expect(summary(autumn.advanceTo(Date.parse('2026-11-01T20:00:00Z')))).toEqual([
      'FIRING no-bids PJM/PJM-RTO @2026-11-01T14:00', // 10:30 EST = 15:30 UTC
      'RESOLVED no-bids PJM/PJM-RTO @2026-11-01T15:30',
    ]);
  });

  test('starting inside the lead window warns at once', () => {
    const engine = engineFor(gate.replace('[BE, PJM-RTO]', '[BE]'));
    engine.start(Date.parse('2026-03-29T09:45:00Z'));
    expect(summary(engine.advanceTo(Date.parse('2026-03-29T09:50:00Z')))).toEqual([
      'FIRING no-bids EPEX/BE @2026-03-29T09:45',
    ]);
  });

  test('day-ahead publication late by the deadline in the market zone, resolved by the first price', () => {
    const rules = `
rules:
  - { name: late, kind: publication-late, topic: market.prices, areas: [NO1, IN] }
`;
    const engine = engineFor(rules);
    const out = run(
      engine,
      [
        // Nord Pool deadline 13:00 CEST on 2026-03-29 = 11:00 UTC; IEX 15:00 IST = 09:30 UTC.
        price('2026-03-29T11:20:00Z', 'NO1', '2026-03-29T22:00:00Z', 40, 'NORDPOOL'),
        price('2026-03-29T09:00:00Z', 'IN', '2026-03-29T18:30:00Z', 4000, 'IEX'),
      ].sort((a, b) => a.timestamp - b.timestamp),
      '2026-03-29T12:00:00Z',
    );
    expect(summary(out)).toEqual([
      'FIRING late NORDPOOL/NO1 @2026-03-29T11:00',
      'RESOLVED late NORDPOOL/NO1 @2026-03-29T11:20',
    ]);
    expect(out[0].event.message).toBe(
      'NORDPOOL NO1 day-ahead prices for 2026-03-30 not published by 2026-03-29 13:00 Europe/Oslo (UTC+02:00)',
    );
  });

  test('a publication that never comes resolves when the delivery day is over instead of repeating forever (25-hour day)', () => {
    const engine = engineFor(
      'rules:\n  - { name: late, kind: publication-late, topic: market.prices, areas: [BE], repeatInterval: 12h }\n',
    );
    engine.start(Date.parse('2026-10-24T00:00:00Z'));
    const out = engine.advanceTo(Date.parse('2026-10-26T00:00:00Z'));
    expect(out.map((n) => `${n.event.labels.deliveryDay} ${summary([n])[0]}`)).toEqual([
      '2026-10-25 FIRING late EPEX/BE @2026-10-24T11:00', // 13:00 CEST on D−1
      '2026-10-25 FIRING#1 late EPEX/BE @2026-10-24T23:00',
      '2026-10-25 FIRING#2 late EPEX/BE @2026-10-25T11:00',
      '2026-10-26 FIRING late EPEX/BE @2026-10-25T12:00', // 13:00 CET: the clocks went back that night
      '2026-10-25 RESOLVED late EPEX/BE @2026-10-25T23:00', // the 25-hour delivery day ends at 00:00 CET
      '2026-10-26 FIRING#1 late EPEX/BE @2026-10-26T00:00',
    ]);
    expect(out[4].event.message).toBe('EPEX BE delivery day 2026-10-25 ended without its day-ahead prices');
  });
});

describe('prices, forecasts and devices', () => {
  test('negative prices and prices at the harmonised cap, each its own alert', () => {
    const out = run(engineFor('rules:\n  - { name: limits, kind: price-limits, topic: market.prices }\n'), [
      price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T10:00:00Z', -5),
      price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T11:00:00Z', -7),
      price('2026-03-29T10:00:00Z', 'BE', '2026-03-30T12:00:00Z', 4000),
      price('2026-03-29T10:01:00Z', 'BE', '2026-03-30T13:00:00Z', 80),
    ]);
    // −7 refreshes the active negative alert, so its RESOLVED event carries the last negative value.
    expect(out.map((n) => `${n.event.state} ${n.event.labels.condition} ${n.event.value}`)).toEqual([
      'FIRING negative -5',
      'RESOLVED negative -7',
      'FIRING cap 4000',
      'RESOLVED cap 4000',
    ]);
    expect(out[2].event.threshold).toBe(4000);
  });

  test('forecast error outside its own P10–P90 band', () => {
    const forecast = (deliveryIso: string, point: number, p10: number, p90: number, model = 'lear') =>
      rec('forecasts.prices', '2026-03-29T08:00:00Z', {
        market: 'EPEX',
        area: 'BE',
        deliveryStart: Date.parse(deliveryIso),
        intervalMinutes: 60,
        issuedAt: Date.parse('2026-03-29T08:00:00Z'),
        model,
        price: point,
        currency: 'EUR',
        quantiles: [
          { probability: 0.1, price: p10 },
          { probability: 0.5, price: point },
          { probability: 0.9, price: p90 },
        ],
      });
    const out = run(engineFor('rules:\n  - { name: band, kind: forecast-band, model: lear }\n'), [
      forecast('2026-03-30T10:00:00Z', 60, 50, 70),
      forecast('2026-03-30T11:00:00Z', 60, 50, 70),
      forecast('2026-03-30T12:00:00Z', 60, 50, 70),
      forecast('2026-03-30T11:00:00Z', 60, 0, 200, 'dnn'),
      price('2026-03-29T11:00:00Z', 'BE', '2026-03-30T10:00:00Z', 65),
      price('2026-03-29T11:00:00Z', 'BE', '2026-03-30T11:00:00Z', 95),
      price('2026-03-29T11:00:00Z', 'BE', '2026-03-30T12:00:00Z', 69),
    ]);
    expect(summary(out)).toEqual(['FIRING band EPEX/BE @2026-03-29T11:00', 'RESOLVED band EPEX/BE @2026-03-29T11:00']);
    expect(out[0].event).toMatchObject({ value: 95, threshold: 70 });
    expect(out[0].event.labels.model).toBe('lear');
  });

  test('state of charge out of bounds and power above the per-asset rating', () => {
    const rules =
      'rules:\n  - name: bess\n    kind: device-limits\n    topic: telemetry.readings\n    soc: { metric: state_of_charge, min: 5, max: 95 }\n    power: { metric: active_power, rating: 10, ratings: { big: 20 } }\n';
    const out = run(engineFor(rules), [
      reading('2026-03-29T00:00:00Z', 'small', 'state_of_charge', 4),
      reading('2026-03-29T00:00:00Z', 'small', 'active_power', -12, 'MW'),
      reading('2026-03-29T00:00:00Z', 'big', 'active_power', 15, 'MW'),
      reading('2026-03-29T00:01:00Z', 'small', 'state_of_charge', 97),
      reading('2026-03-29T00:02:00Z', 'small', 'active_power', 9, 'MW'),
    ]);
    expect(out.map((n) => `${n.event.state} ${n.event.resource} ${n.event.labels.limit} ${n.event.value}`)).toEqual([
      'FIRING small soc-low 4',
      'FIRING small power -12',
      'RESOLVED small soc-low 4',
      'FIRING small soc-high 97',
      'RESOLVED small power -12',
    ]);
  });
});
