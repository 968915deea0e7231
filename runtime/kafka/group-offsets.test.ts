import { createRequire } from 'node:module';
import { GroupMember, isFencedCommit, stableLookup } from './group-offsets.js';
import {
  FlexibleReader,
  FlexibleWriter,
  encodeOffsetFetchV7,
  type OffsetFetchResponseV7,
} from './kafka-protocol-flexible.js';
import { retryLogLevel, startPositions } from './start-positions.js';

const require = createRequire(import.meta.url);
const Broker = require('kafkajs/src/broker/index.js') as {
  prototype: { txnOffsetCommit(args: Record<string, unknown>): Promise<unknown> };
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => Error & { type: string };
};
const { KafkaJSNonRetriableError } = require('kafkajs/src/errors.js') as {
  KafkaJSNonRetriableError: new (e: Error, o?: { cause?: Error }) => Error;
};

const partition = (p: number, offset: string, errorCode = 0) => ({
  partition: p,
  offset,
  leaderEpoch: -1,
  metadata: '',
  errorCode,
});

describe('stableLookup (OffsetFetch v7 for startPositions)', () => {
  it('asks for stable offsets of the partitions, grouped by topic, and answers per partition in order', async () => {
    const bodies: Buffer[] = [];
    const lookup = stableLookup(async (body) => {
      bodies.push(body);
      return {
        throttleTimeMs: 0,
        errorCode: 0,
        topics: [
          { topic: 'a', partitions: [partition(0, '150'), partition(1, '-1'), partition(2, '-1', 88)] },
          { topic: 'b', partitions: [partition(0, '7')] },
        ],
      } satisfies OffsetFetchResponseV7;
    }, 'g');
    const answers = await lookup(
      [
        { topic: 'b', partition: 0 },
        { topic: 'a', partition: 2 },
        { topic: 'a', partition: 0 },
        { topic: 'a', partition: 1 },
        { topic: 'a', partition: 3 },
      ],
      5000,
    );
    expect(bodies).toEqual([
      encodeOffsetFetchV7({
        groupId: 'g',
        topics: [
          { topic: 'b', partitions: [0] },
          { topic: 'a', partitions: [2, 0, 1, 3] },
        ],
        requireStable: true,
      }),
    ]);
    expect(answers[0]).toEqual({ offset: 7 });
    expect(answers[1]).toBeInstanceOf(Error);
    expect((answers[1] as Error).message).toMatch(/^UNSTABLE_OFFSET_COMMIT: /);
    expect(answers[2]).toEqual({ offset: 150 });
    expect(answers[3]).toEqual({}); // no committed offset: the subscription's start applies
    expect((answers[4] as Error).message).toBe('no answer for a[3]');
  });

  it('throws a group-level error as kafkajs does, with its type (kafkajs rejoins on it)', async () => {
    const lookup = stableLookup(async () => ({ throttleTimeMs: 0, errorCode: 27, topics: [] }), 'g');
    await expect(lookup([{ topic: 'a', partition: 0 }], 5000)).rejects.toMatchObject({
      type: 'REBALANCE_IN_PROGRESS',
    });
  });

  it('under startPositions, waits out an open transaction instead of starting from an older offset', async () => {
    const rounds = [[partition(0, '-1', 88)], [partition(0, '-1', 88)], [partition(0, '220')]];
    const lookup = stableLookup(
      async () => ({ throttleTimeMs: 0, errorCode: 0, topics: [{ topic: 't', partitions: rounds.shift()! }] }),
      'g',
    );
    const waits: number[] = [];
    const reasons: string[] = [];
    const positions = await startPositions(lookup, [{ topic: 't', partition: 0 }], {
      sleep: async (ms) => void waits.push(ms),
      stillWanted: () => true,
      onRetry: ({ reason }) => reasons.push(reason.split(':')[0]!),
    });
    expect(positions).toEqual([{ topic: 't', partition: 0, offset: 220 }]);
    expect(waits).toEqual([100, 200]);
    expect(reasons).toEqual(['UNSTABLE_OFFSET_COMMIT', 'UNSTABLE_OFFSET_COMMIT']);
  });
});

describe('retryLogLevel', () => {
  it('logs the first repeat at info, every 10th at warn, the rest at debug', () => {
    expect([1, 2, 9, 10, 11, 20, 30].map(retryLogLevel)).toEqual([
      'info',
      'debug',
      'debug',
      'warn',
      'debug',
      'warn',
      'warn',
    ]);
  });
});

describe('isFencedCommit', () => {
  it("finds the coordinator's fencing error, also inside kafkajs' non-retriable wrapper", () => {
    for (const code of [22, 25, 82]) {
      const e = createErrorFromCode(code);
      expect(isFencedCommit(e)).toBe(e);
      expect(isFencedCommit(new KafkaJSNonRetriableError(e, { cause: e }))).toBe(e);
    }
    expect(isFencedCommit(createErrorFromCode(47))).toBeUndefined(); // INVALID_PRODUCER_EPOCH: not a member's fence
    expect(isFencedCommit(new Error('x'))).toBeUndefined();
    expect(isFencedCommit(undefined)).toBeUndefined();
  });
});

describe("a registered producer's offset commit (kafkajs Broker.txnOffsetCommit)", () => {
  /** A kafkajs Broker with its request sending replaced: records the body, answers `errorCode` per partition. */
  function fakeBroker(errorCode: number, maxVersion = 5) {
    const sendKey = Object.getOwnPropertySymbols(Broker.prototype).find(
      (s) => s.description === 'private:Broker:sendRequest',
    )!;
    const sent: Array<{ apiKey: number; apiVersion: number; body: Buffer }> = [];
    const broker = Object.create(Broker.prototype) as Record<string | symbol, unknown>;
    broker.versions = { 28: { minVersion: 0, maxVersion } };
    broker[sendKey] = async (req: {
      request: { apiKey: number; apiVersion: number; encode(): Promise<{ buf: Buffer; offset: number }> };
      response: { decode(b: Buffer): Promise<unknown>; parse(d: unknown): Promise<unknown> };
    }) => {
      const e = await req.request.encode();
      sent.push({ apiKey: req.request.apiKey, apiVersion: req.request.apiVersion, body: e.buf.subarray(0, e.offset) });
      const response = new FlexibleWriter()
        .noTags()
        .int32(0)
        .compactArray([0], (w) => {
          w.compactString('t');
          w.compactArray([3], (w2, p) => w2.int32(p).int16(errorCode).noTags());
          w.noTags();
        })
        .noTags()
        .bytes();
      return req.response.parse(await req.response.decode(response));
    };
    return { broker, sent };
  }
  const args = {
    transactionalId: 'tx-zm',
    groupId: 'g',
    producerId: '5',
    producerEpoch: 2,
    topics: [{ topic: 't', partitions: [{ partition: 3, offset: '42' }] }],
  };
  const member = () => new GroupMember('g', { sleep: async () => {}, running: () => true });

  it("goes out as TxnOffsetCommit v3 with the member's id and generation", async () => {
    const m = member();
    m.memberId = 'm-1';
    m.generationId = 7;
    const undo = m.fenceCommits('tx-zm');
    try {
      const { broker, sent } = fakeBroker(0);
      await Broker.prototype.txnOffsetCommit.call(broker, args);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ apiKey: 28, apiVersion: 3 });
      const r = new FlexibleReader(sent[0]!.body);
      r.skipTags();
      expect([r.compactString(), r.compactString(), r.int64(), r.int16(), r.int32(), r.compactString()]).toEqual([
        'tx-zm',
        'g',
        '5',
        2,
        7,
        'm-1',
      ]);
    } finally {
      undo();
    }
  });

  it('throws the fencing error a stale member gets, as kafkajs protocol error', async () => {
    const m = member();
    m.memberId = 'm-1';
    m.generationId = 7;
    const undo = m.fenceCommits('tx-zm');
    try {
      await expect(Broker.prototype.txnOffsetCommit.call(fakeBroker(22).broker, args)).rejects.toMatchObject({
        type: 'ILLEGAL_GENERATION',
      });
      await expect(Broker.prototype.txnOffsetCommit.call(fakeBroker(25).broker, args)).rejects.toMatchObject({
        type: 'UNKNOWN_MEMBER_ID',
      });
    } finally {
      undo();
    }
  });

  it("leaves other producers' commits, and brokers without v3, to kafkajs", async () => {
    const m = member();
    m.memberId = 'm-1';
    const undo = m.fenceCommits('tx-zm');
    try {
      for (const [fake, a] of [
        [fakeBroker(0), { ...args, transactionalId: 'someone-else' }],
        [fakeBroker(0, 2), args],
      ] as const) {
        // kafkajs' own request goes through lookupRequest, which a fake broker lacks: that failure shows it was used.
        await expect(Broker.prototype.txnOffsetCommit.call(fake.broker, a)).rejects.toThrow();
        expect(fake.sent).toEqual([]);
      }
    } finally {
      undo();
    }
  });
});
