import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { MemoryTransport, VirtualClock, endpointsFromEnv, makeSpec, type RunningPipeline } from '@optibid/runtime';
import { mqttSource } from '@optibid/connectors/mqtt/source.js';
import { webhookSink, type WebhookPayload } from '@optibid/connectors/alerts/webhook.js';
import { alertingProcessor } from './processor.js';

jest.setTimeout(60_000);

const run = `alerting-${process.pid}-${Date.now().toString(36)}`;
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
async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an MQTT device that stops publishing: the webhook gets FIRING after the configured delay and RESOLVED when it is back, once each', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alerting-int-'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    [
      'rules:',
      '  - name: device-offline',
      '    kind: absence',
      '    topic: telemetry.readings',
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
        config: {
          url: brokerUrl,
          clientId: `${run}-src`,
          cleanSession: true,
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
        config: { rulesFile, time: 'clock' },
        inputs: ['telemetry.readings'],
        outputs: ['alerts.events'],
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
        inputs: ['alerts.events'],
      },
    ],
  });
  const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${run}-pub`, clean: true });
  let pipeline: RunningPipeline | undefined;
  const processed = () => pipeline!.stats().find((s) => s.name === 'alerts')?.recordsIn ?? 0;
  let sent = 0;
  /** Publishes one SoC reading per device at the current virtual time and waits until the alerting processor has it. */
  const publish = async (...devices: string[]) => {
    for (const d of devices)
      await publisher.publishAsync(`${run}/site/${d}/soc`, JSON.stringify({ soc: 50 }), { qos: 1 });
    sent += devices.length;
    await until(`${sent} readings through the pipeline`, () => processed() >= sent);
  };
  try {
    pipeline = await new MemoryTransport().start(spec, { clock });
    await until(
      'the MQTT source to subscribe',
      () => pipeline!.stats().find((s) => s.name === 'site-mqtt')?.state === 'running',
    );

    await publish('bess-1', 'bess-2');
    clock.advance(2 * minute);
    await publish('bess-1', 'bess-2'); // bess-1's last reading: t0 + 2 min
    for (let m = 3; m <= 8; m++) {
      clock.advance(minute);
      await publish('bess-2'); // bess-1 is silent; bess-2 keeps the site's stream (and the alerting clock) moving
    }
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
    expect(firing.occurredAt).toBe(t0 + 7 * minute); // last reading + the configured 5 minutes

    clock.advance(minute);
    await publish('bess-1', 'bess-2'); // the device is back
    await until('the RESOLVED webhook', () => hook.payloads.length >= 2);
    const resolved = hook.payloads[1].alert;
    expect(resolved).toMatchObject({
      rule: 'device-offline',
      state: 'RESOLVED',
      resource: 'bess-1',
      alertId: firing.alertId,
    });
    expect(resolved.occurredAt).toBe(t0 + 9 * minute);

    // More normal traffic changes nothing: exactly one FIRING and one RESOLVED were delivered.
    for (let m = 10; m <= 12; m++) {
      clock.advance(minute);
      await publish('bess-1', 'bess-2');
    }
    await until(
      'the webhook sink to drain',
      () => (pipeline!.stats().find((s) => s.name === 'ops-webhook')?.lag ?? 1) === 0,
    );
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
