import { fencedCommitReason } from './fenced.js';

describe('fencedCommitReason', () => {
  it('names the fenced-member error by its code', () => {
    expect(fencedCommitReason({ code: 25, message: 'x' })).toBe('UNKNOWN_MEMBER_ID');
    expect(fencedCommitReason({ code: 22, message: 'x' })).toBe('ILLEGAL_GENERATION');
    expect(fencedCommitReason({ code: 82, message: 'x' })).toBe('FENCED_INSTANCE_ID');
  });

  it("finds it in the message of librdkafka's transaction error (as logged by the zombie-member test)", () => {
    const message =
      'Failed to commit offsets to transaction on broker 127.0.0.1:9092/1: t.in((null))[0](Broker: Unknown member), ' +
      't.in((null))[1](Broker: Unknown member) (after 1ms)';
    expect(fencedCommitReason({ code: -1, message })).toBe('UNKNOWN_MEMBER_ID');
    expect(
      fencedCommitReason({
        message: 'Failed to commit offsets: t[0](Broker: Specified group generation id is not valid)',
      }),
    ).toBe('ILLEGAL_GENERATION');
  });

  it('leaves every other error alone', () => {
    expect(fencedCommitReason({ code: 47, message: 'Broker: Producer attempted an operation with an old epoch' })).toBe(
      undefined,
    );
    expect(fencedCommitReason({ code: -185, message: 'Local: Timed out' })).toBe(undefined);
    expect(
      fencedCommitReason({ message: 'Local: Maximum application poll interval (max.poll.interval.ms) exceeded' }),
    ).toBe(undefined);
  });
});
