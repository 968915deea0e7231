import { Type } from '@sinclair/typebox';
import { VirtualClock } from '../clock.js';
import { defineSink } from '../component.js';
import { dlqHeaders } from '../dlq.js';
import { OptiBidError } from '../errors.js';
import { MemoryTransport } from '../memory/transport.js';
import type { StreamRecord } from '../record.js';
import { makeSpec } from '../spec.js';
import { silentLogger } from '../pipeline.js';
import { arraySource } from '../testing.js';
import { RejectedRecordsError, SinkCore, isRejectedRecordsError, retryConnect } from './sink.js';

/** A sink that stores records with a numeric price and rejects the others, like the database sinks. */
function pricesSink(stored: StreamRecord[]) {
  return defineSink({
    name: 'prices',
    status: 'experimental',
    summary: 'stores numeric prices, rejects the rest',
    config: Type.Object({}),
    create: () => ({
      connect: async () => {},
      close: async () => {},
      write: async (batch) => {
        const bad = batch.filter((r) => typeof (r.value as { price: unknown }).price !== 'number');
        stored.push(...batch.filter((r) => !bad.includes(r)));
        if (bad.length) {
          throw new RejectedRecordsError(
            bad.map((record) => ({
              record,
              reason: `price must be a finite number, got ${JSON.stringify((record.value as { price: unknown }).price)}`,
            })),
            batch.length - bad.length,
            'prices',
          );
        }
      },
    }),
  });
}

const price = (i: number, p: unknown) => ({ topic: 'prices', key: `k${i}`, value: { price: p }, timestamp: i * 1000 });

describe('sink dead-letter granularity', () => {
  it('SinkCore dead-letters only the records a RejectedRecordsError lists, each with its reason', async () => {
    const stored: StreamRecord[] = [];
    const core = new SinkCore('db', pricesSink(stored).create({}, {} as never), {
      dlqTopic: 'dlq.t',
      logger: silentLogger,
      signal: new AbortController().signal,
    });
    const batch = [price(0, 1), price(1, 'n/a'), price(2, 3), price(3, null)].map((r, i) => ({
      ...r,
      partition: 0,
      offset: String(i),
    }));
    const dead = await core.write(batch);
    expect(stored.map((r) => r.offset)).toEqual(['0', '2']);
    expect(
      dead.map((d) => [
        d.headers![dlqHeaders.sourceOffset],
        d.headers![dlqHeaders.reason],
        d.headers![dlqHeaders.errorCode],
      ]),
    ).toEqual([
      ['1', 'price must be a finite number, got "n/a"', 'OPTIBID_ERR_DECODE'],
      ['3', 'price must be a finite number, got null', 'OPTIBID_ERR_DECODE'],
    ]);
    expect(core.stats).toMatchObject({ recordsIn: 4, recordsOut: 2, failed: 2, dlq: 2 });
  });

  it('any other error still dead-letters the whole batch', async () => {
    const core = new SinkCore(
      'db',
      {
        connect: async () => {},
        close: async () => {},
        write: async () => Promise.reject(new OptiBidError('OPTIBID_ERR_UPSTREAM', 'disk full')),
      },
      { dlqTopic: 'dlq.t', logger: silentLogger, signal: new AbortController().signal },
    );
    const dead = await core.write([price(0, 1), price(1, 2)].map((r) => ({ ...r, partition: 0, offset: '0' })));
    expect(dead.map((d) => d.headers![dlqHeaders.reason])).toEqual(['disk full', 'disk full']);
  });

  it('on the memory transport only the poison records reach the DLQ', async () => {
    const stored: StreamRecord[] = [];
    const spec = makeSpec({
      name: 'granular',
      sources: [{ name: 'src', definition: arraySource('src', [price(0, 10), price(1, 'n/a'), price(2, 30)]) }],
      sinks: [{ name: 'db', definition: pricesSink(stored), inputs: ['prices'] }],
    });
    const transport = new MemoryTransport();
    const run = await transport.start(spec, { clock: new VirtualClock(), untilIdle: true });
    await run.done;
    expect(stored.map((r) => (r.value as { price: number }).price)).toEqual([10, 30]);
    expect(transport.broker.records('dlq.granular').map((r) => r.key)).toEqual(['k1']);
    expect(run.stats().find((s) => s.name === 'db')).toMatchObject({ recordsIn: 3, recordsOut: 2, dlq: 1 });
  });

  it('recognises the error from another copy of the module by name and shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'RejectedRecordsError', rejected: [] });
    expect(isRejectedRecordsError(foreign)).toBe(true);
    expect(isRejectedRecordsError(new Error('x'))).toBe(false);
  });
});

describe('retryConnect', () => {
  const opts = () => ({ logger: silentLogger, signal: new AbortController().signal, backoffMs: 1, maxBackoffMs: 1 });

  it('retries a failing connect until it succeeds', async () => {
    let calls = 0;
    await retryConnect(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('ECONNREFUSED');
      },
      'flaky',
      opts(),
    );
    expect(calls).toBe(3);
  });

  it('gives up at once on a configuration error (a missing file does not appear by waiting)', async () => {
    let calls = 0;
    await expect(
      retryConnect(
        async () => {
          calls += 1;
          throw new OptiBidError('OPTIBID_ERR_CONFIG', 'replay: /nope.csv does not exist');
        },
        'replay',
        opts(),
      ),
    ).rejects.toThrow('/nope.csv does not exist');
    expect(calls).toBe(1);
  });
});
