import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { KafkaTransport, VirtualClock, endpointsFromEnv, makeSpec, type RunningPipeline } from '@optibid/runtime';
import { mqttSource } from '@optibid/connectors/mqtt/source.js';
import { webhookSink, type WebhookPayload } from '@optibid/connectors/alerts/webhook.js';
import { alertingProcessor } from './processor.js';

jest.setTimeout(120_000);

const run = `alerting-${process.pid}-${Date.now().toString(36)}`;
/** Per-run Kafka topics, so re-runs never read earlier runs' records. */
const readingsTopic = `${run}.telemetry.readings`;
const alertsTopic = `${run}.alerts.events`;
const t0 = Date.parse('2026-03-29T00:55:00Z'); // across the European spring-forward hour, for good measure
const minute = 60_000;

/** A real HTTP receiver that records every webhook delivery. */
async function webhookReceiver(): Promise<{ url: string; payloads: WebhookPayload[]; server: Server }> {
  const payloads: WebhookPayload[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      payloads.push(JSON.parse(body) as WebhookPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`, payloads, server };
}

/** Polls a condition on I/O progress (messages through the broker and the pipeline); virtual time does not move. */
async function until(what: string, cond: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('on Kafka: an MQTT device that stops publishing fires once after the configured delay from the clock alone, and resolves once when back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alerting-int-'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    [
      'rules:',
      '  - name: device-offline',
      '    kind: absence',
      `    topic: ${readingsTopic}`,
      '    keyBy: [assetId]',
      '    after: 5m',
      '    severity: critical',
      '    repeatInterval: 1h',
      'receivers:',
      '  - { name: ops-webhook, channel: webhook }',
      'route:',
      '  receiver: ops-webhook',
      '',
    ].join('\n'),
  );
  const hook = await webhookReceiver();
  const brokerUrl = endpointsFromEnv().mqttUrl;
  const clock = new VirtualClock(t0);
  const spec = makeSpec({
    name: run,
    sources: [
      {
        name: 'site-mqtt',
        definition: mqttSource,
        outputs: [readingsTopic],
        config: {
          url: brokerUrl,
          clientId: `${run}-src`,
          cleanSession: true,
          topic: readingsTopic,
          topics: [
            {
              filter: `${run}/site/+/soc`,
              qos: 1,
              decoder: 'json',
              mapping: '{"assetId": $levels[2], "metric": "state_of_charge", "value": soc, "unit": "%"}',
            },
          ],
        },
      },
    ],
    processors: [
      {
        name: 'alerts',
        definition: alertingProcessor,
        // The runtime wakes the rules every second of the injected clock: no other input is needed.
        config: { rulesFile, time: 'clock', tickInterval: '1s' },
        inputs: [readingsTopic],
        outputs: [alertsTopic],
      },
    ],
    sinks: [
      {
        name: 'ops-webhook',
        definition: webhookSink,
        config: {
          url: hook.url,
          timeoutMs: 5000,
          maxAttempts: 3,
          backoffMs: 10,
          maxBackoffMs: 100,
          rateLimit: 100,
          ratePeriodMs: 60_000,
          dedupWindowMs: 300_000,
        },
        inputs: [alertsTopic],
      },
    ],
  });
  const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${run}-pub`, clean: true });
  let pipeline: RunningPipeline | undefined;
  const stat = (name: string) => pipeline!.stats().find((s) => s.name === name)!;
  let sent = 0;
  // Distinct readings (Kafka offsets) the alerting processor has committed. Not `recordsIn`: consumption is
  // at-least-once, and a batch fetched again after an aborted commit is counted there twice, so the test
  // would advance the clock before the newest reading was processed.
  const committed = new Set<string>();
  /** Publishes one SoC reading of bess-1 at the current virtual time and waits until the alerting processor has it. */
  const publish = async () => {
    await publisher.publishAsync(`${run}/site/bess-1/soc`, JSON.stringify({ soc: 50 }), { qos: 1 });
    sent++;
    await until(`${sent} readings through Kafka to the alerting processor`, () => committed.size >= sent);
  };
  try {
    pipeline = await new KafkaTransport({
      instanceId: 'it',
      timerPollMs: 20,
      afterCommit: ({ component, records }) => {
        if (component === 'alerts') for (const r of records) committed.add(`${r.partition}/${r.offset}`);
      },
    }).start(spec, { clock });
    await until('the MQTT source to subscribe', () => stat('site-mqtt').state === 'running');

    await publish();
    clock.advance(2 * minute);
    await publish(); // bess-1's last reading: t0 + 2 min; from here on nothing is published at all

    clock.advance(5 * minute); // the deadline: last reading + 5 min
    await until('the FIRING webhook', () => hook.payloads.length >= 1);
    expect(hook.payloads).toHaveLength(1);
    const firing = hook.payloads[0].alert;
    expect(firing).toMatchObject({
      rule: 'device-offline',
      state: 'FIRING',
      severity: 'CRITICAL',
      resource: 'bess-1',
      value: 300,
      threshold: 300,
      unit: 's',
    });
    expect(firing.occurredAt).toBe(t0 + 7 * minute);
    expect(firing.emittedAt).toBe(t0 + 7 * minute); // sent by the timer at that clock time, not by a record

    clock.advance(minute);
    await publish(); // the device is back
    await until('the RESOLVED webhook', () => hook.payloads.length >= 2);
    const resolved = hook.payloads[1].alert;
    expect(resolved).toMatchObject({
      rule: 'device-offline',
      state: 'RESOLVED',
      resource: 'bess-1',
      alertId: firing.alertId,
    });
    expect(resolved.occurredAt).toBe(t0 + 8 * minute);

    // Normal traffic and ticks within the next deadline change nothing: one FIRING and one RESOLVED in all.
    for (let m = 9; m <= 11; m++) {
      clock.advance(minute);
      await publish();
    }
    clock.advance(4 * minute);
    await until(
      'the webhook sink to have every alert event',
      () => stat('ops-webhook').recordsIn >= stat('alerts').recordsOut,
    );
    await new Promise((r) => setTimeout(r, 500)); // I/O settle: the 20 ms timer poll runs many times meanwhile
    expect(stat('alerts').recordsOut).toBe(2);
    expect(hook.payloads.map((p) => `${p.alert.state} ${p.alert.resource}`)).toEqual([
      'FIRING bess-1',
      'RESOLVED bess-1',
    ]);
  } finally {
    await pipeline?.stop();
    await publisher.endAsync();
    await new Promise((r) => hook.server.close(r));
  }
});
