import { startPositions, type CommittedLookup } from './committed.js';

const tp = (partition: number) => ({ topic: 't', partition });
const unstable = () => new Error('Broker: Unstable offset commit');

/** A lookup answering from a script of rounds; records what each call asked for. */
function scripted(rounds: Array<Array<{ offset?: number } | Error> | Error>) {
  const asked: number[][] = [];
  const lookup: CommittedLookup = async (partitions) => {
    asked.push(partitions.map((p) => p.partition));
    const next = rounds.shift();
    if (!next) throw new Error('lookup called more often than scripted');
    if (next instanceof Error) throw next;
    return next;
  };
  return { lookup, asked };
}

describe('startPositions', () => {
  const waits: number[] = [];
  const opts = { sleep: async (ms: number) => void waits.push(ms), stillWanted: () => true };
  beforeEach(() => (waits.length = 0));

  it('starts at the committed offsets, and at the log start where the group has none', async () => {
    const { lookup } = scripted([[{ offset: 750 }, {}, { offset: 0 }]]);
    expect(await startPositions(lookup, [tp(0), tp(1), tp(2)], opts)).toEqual([
      { topic: 't', partition: 0, offset: 750 },
      { topic: 't', partition: 1, offset: 'beginning' },
      { topic: 't', partition: 2, offset: 0 },
    ]);
    expect(waits).toEqual([]);
  });

  it('asks again for the partitions an open transaction holds, never starting them from the log start', async () => {
    const { lookup, asked } = scripted([
      [{ offset: 750 }, unstable(), unstable()],
      [unstable(), { offset: 40 }],
      [unstable()],
      [{ offset: 150 }],
    ]);
    const retries: string[] = [];
    const positions = await startPositions(lookup, [tp(0), tp(1), tp(2)], {
      ...opts,
      onRetry: ({ attempt, reason, partitions }) =>
        retries.push(`${attempt}: ${partitions.map((p) => p.partition).join(',')} ${reason}`),
    });
    expect(positions).toEqual([
      { topic: 't', partition: 0, offset: 750 },
      { topic: 't', partition: 1, offset: 150 },
      { topic: 't', partition: 2, offset: 40 },
    ]);
    expect(asked).toEqual([[0, 1, 2], [1, 2], [1], [1]]);
    expect(retries).toEqual([
      '1: 1,2 Broker: Unstable offset commit',
      '2: 1 Broker: Unstable offset commit',
      '3: 1 Broker: Unstable offset commit',
    ]);
    expect(waits).toEqual([100, 200, 400]);
  });

  it('repeats a lookup that failed as a whole, backing off to at most 2 s', async () => {
    const timeout = new Error('Local: Timed out');
    const { lookup } = scripted([timeout, timeout, timeout, timeout, timeout, timeout, [{ offset: 9 }]]);
    expect(await startPositions(lookup, [tp(3)], opts)).toEqual([{ topic: 't', partition: 3, offset: 9 }]);
    expect(waits).toEqual([100, 200, 400, 800, 1600, 2000]);
  });

  it('gives up, returning nothing, once the partitions are no longer wanted', async () => {
    let wanted = true;
    const { lookup, asked } = scripted([[unstable()], [unstable()]]);
    const positions = startPositions(lookup, [tp(0)], {
      sleep: async () => {
        if (asked.length === 2) wanted = false; // revoked while the transaction was still open
      },
      stillWanted: () => wanted,
    });
    expect(await positions).toBeUndefined();
    expect(asked).toEqual([[0], [0]]);
  });
});
