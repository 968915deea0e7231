import { Progress } from './transport.js';

const tp = (partition: number) => ({ topic: 't', partition });
const msg = (partition: number, offset: number) => ({ topic: 't', partition, offset }) as never;

describe('rdkafka consumer progress (what --until-idle relies on)', () => {
  const idleMs = 500;
  let now = 0;
  const fresh = () => {
    const p = new Progress(() => {
      throw new Error('no consumer in this test');
    });
    p.assign([tp(0), tp(1)]);
    p.lastActivity = 0;
    return p;
  };

  it('is idle only once every assigned partition reported its end and nothing arrived for idleMs', () => {
    const p = fresh();
    now = 10_000;
    expect(p.idle(now, idleMs)).toBe(false);
    p.atEof('t', 0, 15);
    expect(p.idle(now, idleMs)).toBe(false);
    p.atEof('t', 1, 15);
    expect(p.idle(now, idleMs)).toBe(true);
    expect(p.idle(p.lastActivity + idleMs, idleMs)).toBe(false);
  });

  it('keeps an end reported before the batch that reached it, and clears it when a later record arrives', () => {
    const p = fresh();
    p.atEof('t', 0, 15);
    p.atEof('t', 1, 15);
    p.consumed([[msg(0, 14)], [msg(1, 14)]]);
    p.lastActivity = 0;
    expect(p.idle(10_000, idleMs)).toBe(true);
    p.consumed([[msg(1, 15)]]);
    p.lastActivity = 0;
    expect(p.idle(10_000, idleMs)).toBe(false);
    expect(p.position('t', 1)).toBe(16);
  });

  it('is not idle between a revocation and the assignment that follows it', () => {
    const p = fresh();
    p.atEof('t', 0, 15);
    p.atEof('t', 1, 15);
    expect(p.idle(10_000, idleMs)).toBe(true);
    p.rebalancing();
    expect(p.idle(10_000, idleMs)).toBe(false);
    p.revoke();
    // nothing assigned: "every partition at its end" is vacuously true, and must not end the run
    expect(p.assigned).toEqual([]);
    expect(p.idle(10_000, idleMs)).toBe(false);
    p.assign([tp(0), tp(1)]);
    p.lastActivity = 0;
    expect(p.idle(10_000, idleMs)).toBe(false); // the ends are read again after a new assignment
    p.atEof('t', 0, 15);
    p.atEof('t', 1, 15);
    expect(p.idle(10_000, idleMs)).toBe(true);
  });

  it('counts a member left without partitions as idle once that (empty) assignment is taken', () => {
    const p = fresh();
    p.rebalancing();
    p.revoke();
    p.assign([]);
    p.lastActivity = 0;
    expect(p.idle(10_000, idleMs)).toBe(true);
  });
});
