import { VirtualClock } from '../clock.js';
import type { Logger } from '../component.js';
import { StallWatch } from './stall-watch.js';

function setup(stallMs = 10_000) {
  const clock = new VirtualClock(1_000_000);
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const at = (level: string) => (obj: object | string, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const watch = new StallWatch({ component: 'bars', clock, stallMs, logger });
  const warns = () => lines.filter((l) => l.level === 'warn');
  return { clock, lines, watch, warns };
}

describe('StallWatch', () => {
  it('warns once the lag has stayed above 0 with nothing fetched for stallMs, with the lag and detail', () => {
    const { clock, watch, warns } = setup();
    watch.fetched();
    expect(watch.check(500)).toBe(false);
    clock.advance(9_999);
    expect(watch.check(500)).toBe(false);
    expect(warns()).toHaveLength(0);
    clock.advance(1);
    expect(watch.check(700, { partitions: [{ topic: 'in', partition: 0, position: '21', end: '721' }] })).toBe(true);
    expect(warns()).toHaveLength(1);
    expect(warns()[0]!.obj).toMatchObject({
      component: 'bars',
      lag: 700,
      silentMs: 10_000,
      partitions: [{ topic: 'in', partition: 0, position: '21', end: '721' }],
    });
    expect(warns()[0]!.msg).toMatch(/stalled.*lag 700.*10 s/);
  });

  it('does not count quiet time before the lag turned positive', () => {
    const { clock, watch, warns } = setup();
    watch.fetched();
    clock.advance(60_000); // idle, nothing to read
    expect(watch.check(0)).toBe(false);
    expect(watch.check(10)).toBe(false); // new input arrives: the clock starts now
    clock.advance(9_000);
    expect(watch.check(10)).toBe(false);
    clock.advance(1_000);
    expect(watch.check(10)).toBe(true);
    expect(warns()[0]!.obj).toMatchObject({ silentMs: 70_000, stalledMs: 10_000 });
  });

  it('a fetch resets it; lag back to 0 resets it', () => {
    const { clock, watch, warns } = setup();
    watch.check(5);
    clock.advance(8_000);
    watch.fetched();
    clock.advance(8_000);
    expect(watch.check(5)).toBe(false);
    watch.check(0);
    clock.advance(8_000);
    expect(watch.check(5)).toBe(false);
    expect(warns()).toHaveLength(0);
  });

  it('repeats the warning every stallMs while the stall lasts, and logs its end at info', () => {
    const { clock, watch, warns, lines } = setup();
    watch.check(3);
    for (let i = 0; i < 25; i++) {
      clock.advance(1_000);
      watch.check(3);
    }
    // stalled from 10 s on: warned at 10 s and 20 s
    expect(warns().map((w) => w.obj.stalledMs)).toEqual([10_000, 20_000]);
    clock.advance(1_000);
    watch.fetched();
    expect(lines[lines.length - 1]).toMatchObject({ level: 'info', obj: { component: 'bars', stalledMs: 26_000 } });
    clock.advance(9_000);
    expect(watch.check(3)).toBe(false);
  });
});
