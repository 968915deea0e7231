import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock } from '@optibid/runtime';
import { memoryLogger } from '../timescale/test-support.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { AlertSink } from './channel.js';
import { SlackChannel } from './slack.js';
import { WebhookChannel, verifySignature, webhookHeaders } from './webhook.js';
import type { WebhookPayload } from './webhook.js';
import { alertRecord } from './test-alerts.js';

interface Call {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A real HTTP receiver that answers `failFirst` calls with 503, then 204. */
async function receiver(failFirst: number): Promise<{ url: string; calls: Call[]; accepted: Call[]; server: Server }> {
  const calls: Call[] = [];
  const accepted: Call[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const call = { headers: req.headers, body };
      calls.push(call);
      if (calls.length <= failFirst) {
        res.writeHead(503).end('busy');
      } else {
        accepted.push(call);
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/optibid`, calls, accepted, server };
}

const secret = 'whsec-test-0123456789';

test('a receiver failing the first three calls records exactly one delivery with a valid signature', async () => {
  const r = await receiver(3);
  const clock = new VirtualClock(Date.UTC(2024, 5, 3, 10, 0, 5));
  const sleeps: number[] = [];
  const sink = new AlertSink(
    new WebhookChannel({ url: r.url, secret }, clock),
    { maxAttempts: 5, backoffMs: 1000 },
    memoryLogger(),
    {
      clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
      },
      random: () => 0.25,
    },
  );
  try {
    const record = alertRecord({}, '42');
    await sink.write([record]);
    await sink.write([record]); // a replay of the same alert within the dedup window
    expect(r.calls).toHaveLength(4);
    expect(r.accepted).toHaveLength(1);
    const [delivery] = r.accepted;
    const ts = String(delivery!.headers[webhookHeaders.timestamp]);
    const sig = String(delivery!.headers[webhookHeaders.signature]);
    expect(verifySignature(secret, delivery!.body, ts, sig, { now: clock.now() })).toBe(true);
    expect(verifySignature('wrong-secret', delivery!.body, ts, sig, { now: clock.now() })).toBe(false);
    const payload = JSON.parse(delivery!.body) as WebhookPayload;
    expect(payload.alert).toEqual(record.value);
    expect(payload.source).toEqual({ topic: 'alerts.events', partition: 0, offset: '42' });
    expect(delivery!.headers[webhookHeaders.delivery]).toBe(`price-spike-be:EPEX/BE:FIRING:${record.value.occurredAt}`);
    // exponential backoff with jitter: 1 s, 2 s, 4 s steps, each between half and all of the step
    expect(sleeps).toEqual([625, 1250, 2500]);
    expect(sink.stats).toMatchObject({ delivered: 1, duplicates: 1, retries: 3, deadLettered: 0 });
  } finally {
    r.server.close();
  }
});

test('a receiver that keeps failing gets maxAttempts calls and the alert is dead-lettered', async () => {
  const r = await receiver(1000);
  const sink = new AlertSink(
    new WebhookChannel({ url: r.url, secret }),
    { maxAttempts: 3, backoffMs: 10 },
    memoryLogger(),
    { sleep: async () => undefined },
  );
  try {
    const err = await sink.write([alertRecord({}, '7')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectedRecordsError);
    expect((err as RejectedRecordsError).rejected[0]!.reason).toMatch(/HTTP 503 busy \(after 3 attempt\(s\)\)/);
    expect(r.calls).toHaveLength(3);
  } finally {
    r.server.close();
  }
});

test('an unreachable receiver is retried, then dead-lettered', async () => {
  const r = await receiver(0);
  await new Promise((ok) => r.server.close(ok)); // nothing listens on the port any more
  const sink = new AlertSink(new WebhookChannel({ url: r.url }), { maxAttempts: 2, backoffMs: 10 }, memoryLogger(), {
    sleep: async () => undefined,
  });
  const err = (await sink.write([alertRecord()]).catch((e: unknown) => e)) as RejectedRecordsError;
  expect(err.rejected[0]!.reason).toMatch(/ECONNREFUSED.*after 2 attempt/);
});

test('slack: the incoming webhook receives the formatted message', async () => {
  const r = await receiver(0);
  const sink = new AlertSink(new SlackChannel({ url: r.url, username: 'OptiBid' }), {}, memoryLogger());
  try {
    await sink.write([alertRecord(), alertRecord({ state: 'RESOLVED' })]);
    expect(r.accepted).toHaveLength(2);
    const [firing, resolved] = r.accepted.map(
      (c) => JSON.parse(c.body) as { text: string; username: string; blocks: unknown[] },
    );
    expect(firing!.text).toBe(':red_circle: [CRITICAL] FIRING price-spike-be on EPEX/BE');
    expect(firing!.username).toBe('OptiBid');
    expect(JSON.stringify(firing!.blocks)).toContain('Day-ahead price 412.50 EUR/MWh above 300 EUR/MWh');
    expect(resolved!.text).toBe(':white_check_mark: [CRITICAL] RESOLVED price-spike-be on EPEX/BE');
    expect(r.calls[0]!.headers['content-type']).toBe('application/json');
  } finally {
    r.server.close();
  }
});
