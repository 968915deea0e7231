import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessorCore, VirtualClock, type BatchResult, type OutRecord, type StreamRecord } from '@optibid/runtime';
import { alertKeyPrefix, metaKey, type AlertEvent } from './engine.js';
import { alertingProcessor } from './processor.js';

/**
 * The processor run the way the Kafka transports run it: a ProcessorCore tracking state changes, whose
 * changes go to a changelog (here: per partition, key → JSON text, compacted) and whose stores are
 * restored from that changelog before a partition's first batch. A restart is a new Worker on the same
 * changelog; a rebalance is a Worker that restores only the partitions it was given.
 */
class Worker {
  readonly core: ProcessorCore;
  readonly warnings: string[] = [];
  private readonly restored = new Set<number>();

  constructor(
    private readonly changelog: Map<number, Map<string, string>>,
    readonly clock: VirtualClock,
    rulesFile: string,
    inputs: string[],
  ) {
    const warn = (_obj: unknown, msg?: string) => void this.warnings.push(msg ?? '');
    this.core = ProcessorCore.create(
      {
        name: 'alerts',
        definition: alertingProcessor as never,
        config: { rulesFile, time: 'clock', tickInterval: '1s' },
        inputs,
        outputs: ['alerts.events'],
      },
      {
        name: 'alerts',
        clock,
        logger: { debug() {}, info() {}, warn, error() {} },
        env: {},
        signal: new AbortController().signal,
      },
      { dlqTopic: 'dlq.test', clock, maxOutOfOrdernessMs: 0, trackChanges: true },
    );
  }

  /** One fetched batch of one partition: restore first (as the Kafka transports do), then run, then "commit". */
  async batch(partition: number, records: StreamRecord[]): Promise<OutRecord[]> {
    if (!this.restored.has(partition)) {
      const store = this.core.store(partition);
      store.clear();
      for (const [k, v] of this.changelog.get(partition) ?? []) store.restore(k, JSON.parse(v) as unknown);
      store.discardChanges();
      this.restored.add(partition);
    }
    return this.commit(await this.core.run(records.map((r) => ({ ...r, partition }))));
  }

  /** A timer tick at `iso` on the injected clock. */
  async tick(iso: string): Promise<OutRecord[]> {
    this.clock.set(Date.parse(iso));
    return this.commit(await this.core.tick(this.clock.now()));
  }

  private commit(result: BatchResult): OutRecord[] {
    for (const { partition, changes } of result.changes) {
      const log = this.changelog.get(partition) ?? new Map<string, string>();
      for (const c of changes) {
        if (c.value === undefined) log.delete(c.key);
        else log.set(c.key, JSON.stringify(c.value));
      }
      this.changelog.set(partition, log);
    }
    return result.outputs;
  }
}

function rulesFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'alerting-state-')), 'rules.yaml');
  writeFileSync(file, yaml);
  return file;
}

let offset = 0;
const temp = (iso: string, value: number, assetId: string): StreamRecord => ({
  topic: 'telemetry.readings',
  key: assetId,
  timestamp: Date.parse(iso),
  offset: String(offset++),
  value: { assetId, metric: 'temperature', value, unit: 'Cel' },
});

const lines = (out: OutRecord[]) =>
  out.map((r) => {
    const e = r.value as AlertEvent;
    return `${e.state}${r.headers?.['optibid-alert-repeat'] !== '0' ? `#${r.headers?.['optibid-alert-repeat']}` : ''} ${e.resource} @${new Date(r.timestamp).toISOString().slice(11, 16)}`;
  });

const hot = rulesFile(`
rules:
  - { name: hot, kind: threshold, topic: telemetry.readings, keyBy: [assetId], field: value, above: 80, for: 10m, repeatInterval: 1h }
`);

describe('alerting processor state through a changelog', () => {
  test('restart: a FIRING alert is not sent again, a pending for: window finishes on time, RESOLVED goes out once', async () => {
    const changelog = new Map<number, Map<string, string>>();
    const clock = new VirtualClock(Date.parse('2026-03-29T00:00:00Z'));
    const out: OutRecord[] = [];
    const first = new Worker(changelog, clock, hot, ['telemetry.readings']);
    out.push(...(await first.batch(0, [temp('2026-03-29T00:00:00Z', 90, 'pv-1')])));
    out.push(...(await first.batch(1, [temp('2026-03-29T00:08:00Z', 95, 'pv-2')])));
    out.push(...(await first.tick('2026-03-29T00:12:00Z'))); // pv-1 fires; pv-2 is 4 minutes into its window
    expect(lines(out)).toEqual(['FIRING pv-1 @00:10']);
    // Each alert's state sits in its own partition's store.
    expect([...changelog.get(0)!.keys()].filter((k) => k.startsWith(alertKeyPrefix))).toHaveLength(1);
    expect([...changelog.get(1)!.keys()].filter((k) => k.startsWith(alertKeyPrefix))).toHaveLength(1);
    expect(JSON.parse(changelog.get(1)!.get(metaKey)!)).toMatchObject({ clockRules: false });

    // Deploy: a new worker on the same changelog; both devices still hot.
    const second = new Worker(changelog, clock, hot, ['telemetry.readings']);
    out.push(...(await second.batch(0, [temp('2026-03-29T00:13:00Z', 91, 'pv-1')])));
    out.push(...(await second.batch(1, [temp('2026-03-29T00:13:00Z', 96, 'pv-2')])));
    out.push(...(await second.tick('2026-03-29T00:18:30Z')));
    // pv-2 fires 10 minutes after 00:08, not 10 minutes after the restart.
    expect(lines(out)).toEqual(['FIRING pv-1 @00:10', 'FIRING pv-2 @00:18']);
    out.push(...(await second.tick('2026-03-29T01:11:00Z'))); // pv-1's hourly repeat keeps its schedule
    expect(lines(out).slice(2)).toEqual(['FIRING#1 pv-1 @01:10']);

    // And again, then both cool down: one RESOLVED each, nothing after it.
    const third = new Worker(changelog, clock, hot, ['telemetry.readings']);
    out.push(...(await third.batch(0, [temp('2026-03-29T01:12:00Z', 20, 'pv-1')])));
    out.push(...(await third.batch(1, [temp('2026-03-29T01:12:00Z', 20, 'pv-2')])));
    const fourth = new Worker(changelog, clock, hot, ['telemetry.readings']);
    out.push(...(await fourth.batch(0, [temp('2026-03-29T01:13:00Z', 20, 'pv-1')])));
    out.push(...(await fourth.batch(1, [temp('2026-03-29T01:13:00Z', 20, 'pv-2')])));
    out.push(...(await fourth.tick('2026-03-29T04:00:00Z')));
    expect(lines(out).slice(3)).toEqual(['RESOLVED pv-1 @01:12', 'RESOLVED pv-2 @01:12']);
    expect(
      [...changelog.values()].flatMap((log) => [...log.keys()]).filter((k) => k.startsWith(alertKeyPrefix)),
    ).toEqual([]);
  });

  test('rebalance: a worker given only partition 1 carries on its alerts; the old worker no longer has them', async () => {
    const changelog = new Map<number, Map<string, string>>();
    const clock = new VirtualClock(Date.parse('2026-03-29T00:00:00Z'));
    const a = new Worker(changelog, clock, hot, ['telemetry.readings']);
    await a.batch(0, [temp('2026-03-29T00:00:00Z', 90, 'pv-1')]);
    await a.batch(1, [temp('2026-03-29T00:00:00Z', 90, 'pv-2')]);
    expect(lines(await a.tick('2026-03-29T00:11:00Z'))).toEqual(['FIRING pv-1 @00:10', 'FIRING pv-2 @00:10']);
    // Partition 1 moves to worker b (the runtime drops a's stores on the new assignment and restores on fetch).
    a.core.dropPartition(1, ['telemetry.readings']);
    const b = new Worker(changelog, clock, hot, ['telemetry.readings']);
    expect(lines(await b.batch(1, [temp('2026-03-29T00:20:00Z', 97, 'pv-2')]))).toEqual([]);
    const later = [...(await a.tick('2026-03-29T01:11:00Z')), ...(await b.tick('2026-03-29T01:11:30Z'))];
    expect(lines(later)).toEqual(['FIRING#1 pv-1 @01:10', 'FIRING#1 pv-2 @01:10']);
    expect(lines(await b.batch(1, [temp('2026-03-29T01:20:00Z', 30, 'pv-2')]))).toEqual(['RESOLVED pv-2 @01:20']);
  });

  test('a calendar rule that warned before any record is adopted by partition 0 and neither warns again nor resolves twice after a restart', async () => {
    const rules = rulesFile(`
rules:
  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 1h, repeatInterval: 4h }
`);
    const changelog = new Map<number, Map<string, string>>();
    // EPEX gate closure for delivery 2026-03-28 is 12:00 Brussels (CET) = 11:00Z on the 27th.
    const clock = new VirtualClock(Date.parse('2026-03-27T09:00:00Z'));
    const first = new Worker(changelog, clock, rules, ['bids.signals']);
    const out: OutRecord[] = [];
    out.push(...(await first.tick('2026-03-27T10:00:00Z'))); // no input ever: the in-memory engine warns
    expect(lines(out)).toEqual(['FIRING EPEX/BE @10:00']);
    // A bid signal for another area arrives on partition 0: its store adopts the engine and its state.
    const other = {
      topic: 'bids.signals',
      key: 'NL',
      timestamp: Date.parse('2026-03-27T10:10:00Z'),
      value: { area: 'NL', deliveryStart: Date.parse('2026-03-27T23:00:00Z') },
    };
    out.push(...(await first.batch(0, [other])));
    expect([...changelog.get(0)!.keys()].filter((k) => k.startsWith(alertKeyPrefix))).toHaveLength(1);

    const second = new Worker(changelog, clock, rules, ['bids.signals']);
    out.push(...(await second.batch(0, [{ ...other, timestamp: Date.parse('2026-03-27T10:20:00Z') }])));
    out.push(...(await second.tick('2026-03-27T10:30:00Z')));
    const third = new Worker(changelog, clock, rules, ['bids.signals']);
    out.push(...(await third.batch(0, [{ ...other, timestamp: Date.parse('2026-03-27T10:40:00Z') }])));
    out.push(...(await third.tick('2026-03-27T11:00:30Z')));
    out.push(...(await third.tick('2026-03-27T12:00:00Z')));
    expect(lines(out)).toEqual(['FIRING EPEX/BE @10:00', 'RESOLVED EPEX/BE @11:00']);
  });

  test('only the worker holding partition 0 runs the calendar rules: the others stay silent', async () => {
    const rules = rulesFile(`
rules:
  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 1h }
`);
    const changelog = new Map<number, Map<string, string>>();
    const clock = new VirtualClock(Date.parse('2026-03-27T09:00:00Z'));
    const holder = new Worker(changelog, clock, rules, ['bids.signals']);
    const other = new Worker(changelog, clock, rules, ['bids.signals']);
    holder.core.setAssignment([0, 2]);
    other.core.setAssignment([1, 3]);
    await holder.core.notifyAssigned();
    await other.core.notifyAssigned();
    expect(lines(await other.tick('2026-03-27T10:00:00Z'))).toEqual([]);
    expect(lines(await holder.tick('2026-03-27T10:00:30Z'))).toEqual(['FIRING EPEX/BE @10:00']);
    // Partition 0 moves to the other worker: the former holder drops its in-memory engine and goes quiet.
    holder.core.setAssignment([2]);
    await holder.core.notifyAssigned();
    expect(lines(await holder.tick('2026-03-27T12:00:00Z'))).toEqual([]);
  });

  test('a calendar rule input on another partition is ignored there, with one warning', async () => {
    const rules = rulesFile(`
rules:
  - { name: no-bids, kind: gate-closure, areas: [BE], lead: 1h }
`);
    const clock = new VirtualClock(Date.parse('2026-03-27T09:00:00Z'));
    const w = new Worker(new Map(), clock, rules, ['bids.signals']);
    const bid = (iso: string): StreamRecord => ({
      topic: 'bids.signals',
      key: 'BE',
      timestamp: Date.parse(iso),
      value: { area: 'BE', deliveryStart: Date.parse('2026-03-27T23:00:00Z') },
    });
    await w.batch(3, [bid('2026-03-27T09:10:00Z'), bid('2026-03-27T09:20:00Z')]);
    expect(w.warnings.filter((m) => m.includes('partition 0 only'))).toHaveLength(1);
    // The bid on partition 3 did not reach partition 0's rule: before any partition 0 record, the warning comes.
    expect(lines(await w.tick('2026-03-27T10:00:00Z'))).toEqual(['FIRING EPEX/BE @10:00']);
  });
});
