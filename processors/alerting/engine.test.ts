import { fingerprint } from './fields.js';
import { toAlertRecord } from './engine.js';
import { engineFor, rec, run, summary } from './test-helpers.js';

const threshold = (extra = '') => `
defaults: { repeatInterval: 30m }
rules:
  - name: hot-inverter
    kind: threshold
    topic: telemetry.readings
    where: { metric: temperature }
    keyBy: [assetId]
    field: value
    above: 80
    severity: critical
    labels: { team: field }
${extra}
receivers:
  - { name: hook, channel: webhook }
  - { name: chat, channel: slack }
route:
  receiver: hook
  groupBy: [rule]
  routes:
    - { match: { severity: critical }, receiver: chat, continue: true }
    - { match: { team: field }, receiver: hook, groupBy: [assetId] }
`;

const temp = (iso: string, value: number, assetId = 'pv-1') =>
  rec('telemetry.readings', iso, { assetId, metric: 'temperature', value, unit: 'Cel' }, assetId);

describe('alert lifecycle', () => {
  test('fires once, repeats every repeatInterval while active, resolves once when the condition clears', () => {
    const engine = engineFor(threshold());
    const out = run(
      engine,
      [
        temp('2026-03-29T00:00:00Z', 70),
        temp('2026-03-29T00:05:00Z', 85),
        temp('2026-03-29T00:10:00Z', 90),
        temp('2026-03-29T01:10:00Z', 88),
        temp('2026-03-29T01:20:00Z', 60),
        temp('2026-03-29T01:25:00Z', 61),
      ],
      '2026-03-29T03:00:00Z',
    );
    expect(summary(out)).toEqual([
      'FIRING hot-inverter pv-1 @2026-03-29T00:05',
      'FIRING#1 hot-inverter pv-1 @2026-03-29T00:35',
      'FIRING#2 hot-inverter pv-1 @2026-03-29T01:05',
      'RESOLVED hot-inverter pv-1 @2026-03-29T01:20',
    ]);
    const [first, , , resolved] = out;
    expect(first.event).toMatchObject({
      severity: 'CRITICAL',
      state: 'FIRING',
      value: 85,
      threshold: 80,
      unit: 'Cel',
      occurredAt: Date.parse('2026-03-29T00:05:00Z'),
    });
    expect(first.event.labels).toMatchObject({
      team: 'field',
      assetId: 'pv-1',
      sourceTopic: 'telemetry.readings',
      sourcePartition: '0',
    });
    expect(first.event.message).toBe('value of pv-1 is 85 Cel, above 80 Cel');
    // Same alert, same fingerprint; the resolution links to the record that cleared it.
    expect(new Set(out.map((n) => n.event.alertId))).toEqual(
      new Set([fingerprint('hot-inverter', { assetId: 'pv-1' })]),
    );
    expect(resolved.event.labels.sourceOffset).not.toBe(first.event.labels.sourceOffset);
    expect(engine.activeAlerts()).toEqual([]);
  });

  test('each key is its own alert with its own fingerprint', () => {
    const out = run(engineFor(threshold()), [
      temp('2026-03-29T00:00:00Z', 85, 'pv-1'),
      temp('2026-03-29T00:00:00Z', 95, 'pv-2'),
      temp('2026-03-29T00:01:00Z', 50, 'pv-2'),
    ]);
    expect(summary(out)).toEqual([
      'FIRING hot-inverter pv-1 @2026-03-29T00:00',
      'FIRING hot-inverter pv-2 @2026-03-29T00:00',
      'RESOLVED hot-inverter pv-2 @2026-03-29T00:01',
    ]);
    expect(out[0].event.alertId).not.toBe(out[1].event.alertId);
  });

  test('fingerprints are stable under label order and differ per rule', () => {
    expect(fingerprint('r', { a: '1', b: '2' })).toBe(fingerprint('r', { b: '2', a: '1' }));
    expect(fingerprint('r', { a: '1' })).not.toBe(fingerprint('s', { a: '1' }));
    expect(fingerprint('r', { a: '1' })).toMatch(/^[0-9a-f]{16}$/);
  });

  test('`for` holds the alert pending; a condition that clears in time never notifies', () => {
    const rules = threshold().replace('severity: critical', 'severity: critical\n    for: 10m');
    const out = run(
      engineFor(rules),
      [
        temp('2026-03-29T00:00:00Z', 85),
        temp('2026-03-29T00:05:00Z', 70),
        temp('2026-03-29T00:20:00Z', 90),
        temp('2026-03-29T00:25:00Z', 91),
      ],
      '2026-03-29T00:40:00Z',
    );
    expect(summary(out)).toEqual(['FIRING hot-inverter pv-1 @2026-03-29T00:30']);
    expect(out[0].event.occurredAt).toBe(Date.parse('2026-03-29T00:30:00Z'));
  });

  test('routing: critical goes to slack and continues to the team route; group keys follow groupBy', () => {
    const [n] = run(engineFor(threshold()), [temp('2026-03-29T00:00:00Z', 85)]);
    expect(n.routes.map((r) => [r.receivers.map((x) => x.name), r.groupKey])).toEqual([
      [['chat'], 'route.0:{rule=hot-inverter}'],
      [['hook'], 'route.1:{assetId=pv-1}'],
    ]);
    const record = toAlertRecord(n);
    expect(record).toMatchObject({ topic: 'alerts.events', key: n.event.alertId, timestamp: n.at });
    expect(record.headers).toMatchObject({
      'optibid-receivers': 'chat,hook',
      'optibid-channels': 'slack,webhook',
      'optibid-alert-state': 'FIRING',
    });
  });

  test('a silence mutes notifications until it expires; the next repeat after expiry is sent, and a muted alert never sends RESOLVED', () => {
    const silence = `silences:
  - { id: s1, matchers: { assetId: pv-1 }, startsAt: "2026-03-29T00:00:00Z", endsAt: "2026-03-29T00:50:00Z" }`;
    const engine = engineFor(threshold(silence));
    const out = run(engine, [
      temp('2026-03-29T00:10:00Z', 85),
      temp('2026-03-29T00:15:00Z', 85, 'pv-2'),
      temp('2026-03-29T00:20:00Z', 50, 'pv-2'),
      temp('2026-03-29T01:30:00Z', 50),
    ]);
    expect(summary(out)).toEqual([
      'FIRING hot-inverter pv-2 @2026-03-29T00:15',
      'RESOLVED hot-inverter pv-2 @2026-03-29T00:20',
      'FIRING#2 hot-inverter pv-1 @2026-03-29T01:10',
      'RESOLVED hot-inverter pv-1 @2026-03-29T01:30',
    ]);
    expect(engine.stats.muted).toBe(2);
    const muted = run(engineFor(threshold(silence)), [
      temp('2026-03-29T00:10:00Z', 85),
      temp('2026-03-29T00:20:00Z', 50),
    ]);
    expect(muted).toEqual([]);
  });

  test('a recurring maintenance window in local time mutes only inside the window, DST-aware, until it expires', () => {
    const window = `maintenance:
  - { name: sunday, matchers: { assetId: pv-1 }, timeZone: Europe/Brussels, days: [sun], start: "01:00", end: "04:00", expiresAt: "2026-04-05T00:00:00Z" }`;
    // 2026-03-29 is a Sunday and the spring-forward day: 01:00–04:00 local is 00:00–01:00 UTC (CET) + 01:00–02:00 UTC (CEST).
    const inside = run(engineFor(threshold(window)), [temp('2026-03-29T01:30:00Z', 85)]);
    expect(inside).toEqual([]);
    const after = run(engineFor(threshold(window)), [temp('2026-03-29T02:00:00Z', 85)]);
    expect(summary(after)).toEqual(['FIRING hot-inverter pv-1 @2026-03-29T02:00']);
    const expired = run(engineFor(threshold(window)), [temp('2026-04-05T00:30:00Z', 85)]);
    expect(expired).toHaveLength(1);
  });
});
