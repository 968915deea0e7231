import OffsetManager from 'kafkajs/src/consumer/offsetManager/index.js';
import { guardOffsetResets, offsetResetDecision, parseLibrdkafkaOffsetReset } from './offset-reset.js';

describe('offsetResetDecision', () => {
  it('goes on from the log start after records were deleted unread, counting them lost', () => {
    expect(offsetResetDecision('21', '51', '51')).toMatchObject({ resetTo: '51', lost: 30 });
    expect(offsetResetDecision('0', '40', '40').reason).toMatch(/deleted/);
  });

  it('reads again from the log start when the fetch offset is beyond the log end (truncated or recreated)', () => {
    expect(offsetResetDecision('900', '0', '120')).toMatchObject({ resetTo: '0', lost: 0 });
    expect(offsetResetDecision('900', '0', '120').reason).toMatch(/beyond the log end/);
  });

  it('keeps the position when the offset is in range again', () => {
    expect(offsetResetDecision('60', '0', '120')).toMatchObject({ resetTo: '60', lost: 0 });
    expect(offsetResetDecision('120', '0', '120')).toMatchObject({ resetTo: '120', lost: 0 });
  });

  it('handles offsets beyond 2^53', () => {
    expect(offsetResetDecision('9007199254740993', '9007199254740995', '9007199254740999')).toMatchObject({
      resetTo: '9007199254740995',
      lost: 2,
    });
  });
});

describe('parseLibrdkafkaOffsetReset', () => {
  it("reads the partition and fetch offset from librdkafka's reset warning, and nothing from other lines", () => {
    expect(
      parseLibrdkafkaOffsetReset(
        'o1.mid.in [0]: offset reset (at offset 21 (leader epoch 0), broker 1) to BEGINNING: fetch failed due to requested offset not available on the broker: Broker: Offset out of range',
      ),
    ).toEqual({ topic: 'o1.mid.in', partition: 0, fetchOffset: '21' });
    // as node-rdkafka 2.12 emits it ('event.log', severity 4, fac OFFSET)
    expect(
      parseLibrdkafkaOffsetReset(
        '[thrd:main]: s3.rdlog.mwx4njh1 [0]: offset reset (at offset 20 (leader epoch 0), broker 1) to offset BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker: Broker: Offset out of range',
      ),
    ).toEqual({ topic: 's3.rdlog.mwx4njh1', partition: 0, fetchOffset: '20' });
    expect(parseLibrdkafkaOffsetReset('t [3]: offset reset (at offset 7, broker 1) to END: x')).toEqual({
      topic: 't',
      partition: 3,
      fetchOffset: '7',
    });
    expect(parseLibrdkafkaOffsetReset('t [3]: Fetch backoff for 500ms')).toBeUndefined();
  });
});

/** The real kafkajs OffsetManager with a coordinator that records offset commits. */
function manager(groupId: string) {
  const commits: unknown[] = [];
  const coordinator = {
    isConnected: () => true,
    offsetCommit: async (req: unknown) => void commits.push(req),
  };
  const cluster = {
    committedOffsets: () => ({}),
    defaultOffset: ({ fromBeginning }: { fromBeginning: boolean }) => (fromBeginning ? -2 : -1),
  };
  const m = new OffsetManager({
    cluster,
    coordinator,
    memberAssignment: { in: [0, 1] },
    autoCommit: false,
    topicConfigurations: { in: { fromBeginning: true } },
    groupId,
    generationId: 1,
    memberId: 'm',
  });
  m.committedOffsets().in = { 0: '21', 1: '5' };
  return { m, commits };
}

describe('guardOffsetResets (kafkajs OffsetManager.setDefaultOffset)', () => {
  it("moves only the guarded member's fetch position, to where the handler says, and commits nothing", async () => {
    const seen: unknown[] = [];
    const unguard = guardOffsetResets('g1', async (e) => {
      seen.push(e);
      return '51';
    });
    try {
      const { m, commits } = manager('g1');
      await m.setDefaultOffset({ topic: 'in', partition: 0 });
      expect(commits).toEqual([]);
      expect(seen).toEqual([{ groupId: 'g1', topic: 'in', partition: 0, fetchOffset: '21' }]);
      expect(m.nextOffset('in', 0).toString()).toBe('51');
      expect(m.nextOffset('in', 1).toString()).toBe('5');
      expect(m.committedOffsets().in![0]).toBe('21'); // the group's committed offset is not touched
    } finally {
      unguard();
    }
  });

  it('leaves other groups (and a group after unguarding) to kafkajs: a plain commit of the default offset', async () => {
    const unguard = guardOffsetResets('g2', async () => '51');
    const other = manager('not-guarded');
    await other.m.setDefaultOffset({ topic: 'in', partition: 0 });
    expect(other.commits).toEqual([
      expect.objectContaining({
        groupId: 'not-guarded',
        topics: [{ topic: 'in', partitions: [{ partition: 0, offset: -2 }] }],
      }),
    ]);
    unguard();
    const after = manager('g2');
    await after.m.setDefaultOffset({ topic: 'in', partition: 0 });
    expect(after.commits).toHaveLength(1);
  });

  it('with two members of one group in a process, the latest guard answers until it is removed', async () => {
    const a = guardOffsetResets('g3', async () => '10');
    const b = guardOffsetResets('g3', async () => '20');
    const { m } = manager('g3');
    await m.setDefaultOffset({ topic: 'in', partition: 0 });
    expect(m.nextOffset('in', 0).toString()).toBe('20');
    b();
    await m.setDefaultOffset({ topic: 'in', partition: 1 });
    expect(m.nextOffset('in', 1).toString()).toBe('10');
    a();
  });
});
