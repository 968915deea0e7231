import { NotConnected, VirtualClock } from '@optibid/runtime';
import type { StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { memoryLogger } from '../timescale/test-support.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { alertText, alertTitle } from './alert.js';
import { AlertSink } from './channel.js';
import type { AlertChannel } from './channel.js';
import { DedupWindow, RateLimiter } from './guard.js';
import { alertTopic } from './mqtt.js';
import { abortableSleep, backoffDelay, DeliveryError, withRetries } from './retry.js';
import { slackMessage } from './slack.js';
import { signPayload, verifySignature } from './webhook.js';
import { alertRecord } from './test-alerts.js';

/** A channel that records what it was asked to send and fails as scripted. */
class ScriptedChannel implements AlertChannel {
  readonly describe = 'scripted';
  sent: AlertEvent[] = [];
  calls = 0;
  constructor(
    private readonly failures: (DeliveryError | Error)[] = [],
    readonly whenExhausted: 'dead-letter' | 'pause' = 'dead-letter',
  ) {}
  async send(alert: AlertEvent, _record: StreamRecord): Promise<void> {
    this.calls++;
    const f = this.failures.shift();
    if (f) throw f;
    this.sent.push(alert);
  }
}

function deps(clock = new VirtualClock(Date.UTC(2024, 5, 3))) {
  const sleeps: number[] = [];
  return { clock, sleeps, sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5 };
}

describe('backoff', () => {
  test('doubles per attempt up to the cap, with jitter between half and all of the step', () => {
    const o = { baseMs: 1000, maxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...o, random: () => 0 }))).toEqual([
      500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...o, random: () => 0.999999 }))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  test('retries transient failures, honours Retry-After, stops at permanent ones', async () => {
    const sleeps: number[] = [];
    const script = [new DeliveryError('503', true), new DeliveryError('429', true, 7000)];
    const attempts = await withRetries(
      async () => {
        const e = script.shift();
        if (e) throw e;
      },
      { baseMs: 100, maxMs: 60_000, random: () => 0, maxAttempts: 5, sleep: async (ms) => void sleeps.push(ms) },
    );
    expect(attempts).toBe(3);
    expect(sleeps).toEqual([50, 7000]);
    const permanent = withRetries(
      async () => {
        throw new DeliveryError('400', false);
      },
      { baseMs: 100, maxMs: 1000, random: () => 0, maxAttempts: 5, sleep: async () => undefined },
    );
    await expect(permanent).rejects.toMatchObject({ message: '400', attempts: 1 });
  });
});

describe('dedup window and rate limit', () => {
  test('dedup forgets a key once the window has passed', () => {
    const clock = new VirtualClock(0);
    const d = new DedupWindow(1000, clock);
    d.remember('a');
    clock.advance(999);
    expect(d.has('a')).toBe(true);
    clock.advance(1);
    expect(d.has('a')).toBe(false);
  });

  test('rate limit allows `limit` per sliding period', () => {
    const clock = new VirtualClock(0);
    const r = new RateLimiter(2, 1000, clock);
    expect([r.tryTake(), r.tryTake(), r.tryTake()]).toEqual([true, true, false]);
    clock.advance(999);
    expect(r.tryTake()).toBe(false);
    clock.advance(1); // both slots taken at 0 have expired
    expect([r.tryTake(), r.tryTake(), r.tryTake()]).toEqual([true, true, false]);
  });
});

describe('AlertSink', () => {
  test('a flapping rule is deduplicated per state within the window and rate limited', async () => {
    const d = deps();
    const channel = new ScriptedChannel();
    const sink = new AlertSink(
      channel,
      { dedupWindowMs: 60_000, rateLimit: 3, ratePeriodMs: 3_600_000 },
      memoryLogger(),
      d,
    );
    const firing = alertRecord();
    const resolved = alertRecord({ state: 'RESOLVED' });
    await sink.write([firing, firing, resolved, firing, resolved]);
    expect(channel.sent.map((a) => a.state)).toEqual(['FIRING', 'RESOLVED']);
    expect(sink.stats.duplicates).toBe(3);
    d.clock.advance(60_000); // the window has passed: the next transition goes out
    await sink.write([firing]);
    expect(sink.stats.delivered).toBe(3);
    await sink.write([alertRecord({ alertId: 'other' })]); // a fourth alert within the hour: over the limit
    expect(sink.stats.rateLimited).toBe(1);
    expect(channel.sent).toHaveLength(3);
  });

  test('dead-letters after maxAttempts and keeps sending the rest of the batch', async () => {
    const d = deps();
    const channel = new ScriptedChannel([
      new DeliveryError('503', true),
      new DeliveryError('503', true),
      new DeliveryError('503', true),
    ]);
    const sink = new AlertSink(channel, { maxAttempts: 3, backoffMs: 1000 }, memoryLogger(), d);
    const err = await sink.write([alertRecord({}, '1'), alertRecord({ alertId: 'b' }, '2')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectedRecordsError);
    expect((err as RejectedRecordsError).rejected.map((r) => [r.record.offset, r.reason])).toEqual([
      ['1', 'scripted: 503 (after 3 attempt(s))'],
    ]);
    expect(channel.sent.map((a) => a.alertId)).toEqual(['b']);
    expect(d.sleeps).toEqual([750, 1500]);
    expect(sink.stats).toMatchObject({ delivered: 1, deadLettered: 1, retries: 2 });
  });

  test('channels on our own brokers pause the pipeline instead of dead-lettering', async () => {
    const channel = new ScriptedChannel([new Error('down'), new Error('down')], 'pause');
    const sink = new AlertSink(channel, { maxAttempts: 2 }, memoryLogger(), deps());
    await expect(sink.write([alertRecord()])).rejects.toBeInstanceOf(NotConnected);
  });

  test('malformed alerts are rejected with a reason', async () => {
    const sink = new AlertSink(new ScriptedChannel(), {}, memoryLogger(), deps());
    const bad = { ...alertRecord(), value: { rule: 'x' } };
    const err = (await sink.write([bad]).catch((e: unknown) => e)) as RejectedRecordsError;
    expect(err.rejected[0]!.reason).toBe('alert alertId must be a non-empty string');
  });
});

describe('formats', () => {
  const a = alertRecord().value;

  test('title and text carry severity, state, rule, resource, value against threshold and labels', () => {
    expect(alertTitle(a)).toBe('[CRITICAL] FIRING price-spike-be on EPEX/BE');
    expect(alertText(a)).toBe(
      '[CRITICAL] FIRING price-spike-be on EPEX/BE\nDay-ahead price 412.50 EUR/MWh above 300 EUR/MWh\nvalue: 412.5 EUR/MWh (threshold 300 EUR/MWh)\nat: 2024-06-03T10:00:00.000Z\nlabels: market=EPEX, area=BE',
    );
  });

  test('MQTT topics are filled from the alert without wildcards or extra levels', () => {
    expect(alertTopic('alerts/{severity}/{rule}/{resource}/{nope}', a)).toBe(
      'alerts/CRITICAL/price-spike-be/EPEX_BE/{nope}',
    );
    expect(alertTopic('a/{rule}', { ...a, rule: 'x+#y' })).toBe('a/x__y');
  });

  test('Slack message has a fallback text and mrkdwn blocks', () => {
    const m = slackMessage(a, { channel: '#trading' });
    expect(m.text).toBe(':red_circle: [CRITICAL] FIRING price-spike-be on EPEX/BE');
    expect(m.channel).toBe('#trading');
    expect(JSON.stringify(m.blocks)).toContain('threshold 300 EUR/MWh');
    expect(slackMessage({ ...a, state: 'RESOLVED' }).text).toMatch(/^:white_check_mark:/);
  });

  test('signatures verify only with the right secret, body and a fresh timestamp', () => {
    const ts = '1717408800';
    const sig = signPayload('s3cret', ts, '{"a":1}');
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret', '{"a":1}', ts, sig, { now: 1717408800_000 })).toBe(true);
    expect(verifySignature('other', '{"a":1}', ts, sig, { now: 1717408800_000 })).toBe(false);
    expect(verifySignature('s3cret', '{"a":2}', ts, sig, { now: 1717408800_000 })).toBe(false);
    expect(verifySignature('s3cret', '{"a":1}', ts, sig, { now: 1717408800_000 + 600_000 })).toBe(false);
  });
});

describe('shutdown', () => {
  test('an abort during a retry wait leaves the batch unacknowledged (NotConnected), not dead-lettered', async () => {
    const controller = new AbortController();
    const channel = new ScriptedChannel([new DeliveryError('503', true)]);
    const sink = new AlertSink(channel, { backoffMs: 60_000 }, memoryLogger(), {
      sleep: abortableSleep(controller.signal),
    });
    const pending = sink.write([alertRecord()]);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(NotConnected);
    expect(sink.stats.deadLettered).toBe(0);
  });
});
