import { scopedRegistry } from './scoped-registry.js';

describe('scopedRegistry', () => {
  it('gives the latest registration of an id, and each undo removes only its own', () => {
    const r = scopedRegistry<string>();
    expect(r.current('g')).toBeUndefined();
    const undoA = r.register('g', 'a');
    const undoB = r.register('g', 'b');
    r.register('other', 'x');
    expect(r.current('g')).toBe('b');
    undoB();
    expect(r.current('g')).toBe('a');
    undoB();
    expect(r.current('g')).toBe('a');
    undoA();
    expect(r.current('g')).toBeUndefined();
    expect(r.current('other')).toBe('x');
  });

  it('counts equal values registered twice as two registrations', () => {
    const r = scopedRegistry<boolean>();
    const first = r.register('tx', true);
    const second = r.register('tx', true);
    first();
    expect(r.current('tx')).toBe(true);
    second();
    expect(r.current('tx')).toBeUndefined();
  });
});
