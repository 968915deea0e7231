import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from 'kafkajs';
import { VirtualClock, makeSpec, type RunningPipeline } from '@optibid/runtime';
import { createTopics, produce, testKafka } from '@optibid/runtime/kafka/fixtures/kafka-helpers.js';
import { kafkaTransports } from '@optibid/runtime/kafka/fixtures/transports.js';
import type { AlertEvent } from './engine.js';
import { alertingProcessor } from './processor.js';

jest.setTimeout(180_000);

const runId = `alerting-restart-${process.pid}-${Date.now().toString(36)}`;
const t0 = Date.parse('2026-03-29T00:00:00Z');
const minute = 60_000;

/** Polls a condition on I/O progress (records through the broker and the pipeline); virtual time does not move. */
async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(kafkaTransports)(
  'alerting on the %s transport across worker restarts',
  (transportName, makeTransport) => {
    const run = `${runId}-${transportName}`;
    const readings = `${run}.telemetry.readings`;
    const alerts = `${run}.alerts.events`;

    test('an alert fires once and resolves once although the worker restarts while it is firing and while another is pending', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'alerting-restart-'));
      const rulesFile = join(dir, 'rules.yaml');
      writeFileSync(
        rulesFile,
        [
          'rules:',
          '  - name: hot',
          '    kind: threshold',
          `    topic: ${readings}`,
          '    keyBy: [assetId]',
          '    field: value',
          '    above: 80',
          '    for: 10m',
          '    repeatInterval: 1h',
          '',
        ].join('\n'),
      );
      // Two input partitions: each device's alert lives in the state of its own partition.
      await createTopics([{ topic: readings, numPartitions: 2 }, { topic: alerts }]);
      const spec = makeSpec({
        name: run,
        partitions: { [readings]: 2 },
        processors: [
          {
            name: 'alerts',
            definition: alertingProcessor,
            config: { rulesFile, time: 'clock', tickInterval: '1s' },
            inputs: [readings],
            outputs: [alerts],
          },
        ],
      });
      const clock = new VirtualClock(t0);
      const committed = new Set<string>();
      const start = () =>
        makeTransport({
          instanceId: 'w1', // the same worker coming back: same group, changelog and transactional id
          timerPollMs: 20,
          afterCommit: ({ component, records }) => {
            if (component === 'alerts') for (const r of records) committed.add(`${r.partition}/${r.offset}`);
          },
        }).start(spec, { clock });
      let sent = 0;
      /** Produces one reading at the current virtual time and waits until the alerting processor has committed it. */
      const reading = async (assetId: string, value: number, partition: number) => {
        await produce(readings, [
          {
            key: assetId,
            value: { assetId, metric: 'temperature', value, unit: 'Cel' },
            timestamp: clock.now(),
            partition,
          },
        ]);
        sent++;
        await until(`${sent} readings committed by the alerting processor`, () => committed.size >= sent);
      };

      // Everything the processor ever committed to the alerts topic, read committed.
      const events: AlertEvent[] = [];
      const reader: Consumer = testKafka().consumer({ groupId: `${run}-reader`, readUncommitted: false });
      await reader.connect();
      await reader.subscribe({ topic: alerts, fromBeginning: true });
      await reader.run({
        eachMessage: async ({ message }) => {
          events.push(JSON.parse(message.value!.toString('utf8')) as AlertEvent);
        },
      });
      const seen = () => events.map((e) => `${e.state} ${e.resource} ${(e.occurredAt - t0) / minute}m`);
      /** Waits for `n` alert events, then a little longer so that a duplicate would show. */
      const settle = async (n: number) => {
        await until(`${n} alert events`, () => events.length >= n);
        await new Promise((r) => setTimeout(r, 1500)); // the 20 ms timer poll runs many times meanwhile
      };

      let worker: RunningPipeline | undefined;
      try {
        worker = await start();
        await reading('pv-1', 90, 0); // t0: pv-1 hot
        clock.set(t0 + 8 * minute);
        await reading('pv-2', 95, 1); // t0+8m: pv-2 hot
        clock.set(t0 + 12 * minute); // pv-1's for: window ends at 10m; pv-2's is 4 minutes in
        await settle(1);
        expect(seen()).toEqual(['FIRING pv-1 10m']);

        // Deploy: stop the worker, start it again on the same group and changelog.
        await worker.stop();
        worker = await start();
        clock.set(t0 + 13 * minute);
        await reading('pv-1', 91, 0); // still hot: the restored engine knows pv-1 is FIRING
        await reading('pv-2', 96, 1); // still hot: pv-2's for: window runs on from 8m
        clock.set(t0 + 19 * minute);
        await settle(2);
        // Without its state the worker would send pv-1 again and pv-2 only at 23m (10 minutes after the restart).
        clock.set(t0 + 30 * minute);
        await settle(2);
        expect(seen()).toEqual(['FIRING pv-1 10m', 'FIRING pv-2 18m']);

        // Restart again, then both cool down: one RESOLVED each.
        await worker.stop();
        worker = await start();
        clock.set(t0 + 35 * minute);
        await reading('pv-1', 20, 0);
        await reading('pv-2', 20, 1);
        await reading('pv-1', 21, 0);
        await settle(4);
        expect(seen()).toEqual(['FIRING pv-1 10m', 'FIRING pv-2 18m', 'RESOLVED pv-1 35m', 'RESOLVED pv-2 35m']);

        // One FIRING and one RESOLVED per alert in the whole topic, the pair sharing an alertId.
        for (const resource of ['pv-1', 'pv-2']) {
          const mine = events.filter((e) => e.resource === resource);
          expect(mine.map((e) => e.state)).toEqual(['FIRING', 'RESOLVED']);
          expect(new Set(mine.map((e) => e.alertId)).size).toBe(1);
        }
      } finally {
        await worker?.stop();
        await reader.disconnect();
      }
    });
  },
);
