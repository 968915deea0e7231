import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock, isOptiBidError } from '@optibid/runtime';
import { HttpFetcher, retryAfterMs, redactUrl } from './http.js';
import { VirtualSleeper } from './timer.js';

describe('HTTP fetcher', () => {
  test('Retry-After in seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });

  test('secrets in query strings are redacted from messages', () => {
    expect(redactUrl('https://x/api?securityToken=abc&documentType=A44')).toBe(
      'https://x/api?securityToken=***&documentType=A44',
    );
  });

  test('a server that never answers times out, retried, then a timeout error', async () => {
    const server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const clock = new VirtualClock(0);
    const sleeper = new VirtualSleeper(clock);
    const f = new HttpFetcher(clock, sleeper, { timeoutMs: 150, maxRetries: 1, backoffMs: 500 });
    let err: unknown;
    try {
      await f.get({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, label: 'slow' });
    } catch (e) {
      err = e;
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(isOptiBidError(err, 'OPTIBID_ERR_TIMEOUT')).toBe(true);
    expect(String(err)).toMatch(/slow: no response within 150 ms \(gave up after 2 attempts\)/);
    // 500 ms back-off, then 1500 ms more to keep the default 30 requests/minute spacing.
    expect(sleeper.sleeps).toEqual([500, 1500]);
  });

  test('a body over the cap is refused', async () => {
    const server = createServer((_req, res) => res.end('x'.repeat(5000)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const clock = new VirtualClock(0);
    const f = new HttpFetcher(clock, new VirtualSleeper(clock), { maxBytes: 1000 });
    await expect(
      f.get({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, label: 'big' }),
    ).rejects.toThrow(/big: response of 5000 bytes exceeds the 1000-byte limit/);
    server.close();
  });
});
