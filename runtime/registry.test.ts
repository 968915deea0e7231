import { Type } from '@sinclair/typebox';
import { ComponentRegistry } from './registry.js';
import { defineProcessor, defineSink } from './component.js';
import { isOptiBidError } from './errors.js';

const identity = defineProcessor({
  name: 'identity',
  status: 'stable',
  summary: 'passes records through',
  config: Type.Object({}),
  create: () => ({ process: (r, ctx) => ctx.emit(r) }),
});

describe('ComponentRegistry', () => {
  it('finds components by name and lists them by kind', () => {
    const sink = defineSink({
      name: 'null-sink',
      status: 'experimental',
      summary: 'drops records',
      config: Type.Object({}),
      create: () => ({ connect: async () => {}, write: async () => {}, close: async () => {} }),
    });
    const reg = new ComponentRegistry([sink, identity]);
    expect(reg.get('identity')?.kind).toBe('processor');
    expect(reg.list('sink').map((d) => d.name)).toEqual(['null-sink']);
    expect(reg.list().map((d) => d.name)).toEqual(['identity', 'null-sink']);
  });

  it('rejects a duplicate name', () => {
    const reg = new ComponentRegistry([identity]);
    let caught: unknown;
    try {
      reg.register(identity);
    } catch (err) {
      caught = err;
    }
    expect(isOptiBidError(caught, 'OPTIBID_ERR_CONFIG')).toBe(true);
    expect((caught as Error).message).toMatch(/registered twice/);
  });

  it('rejects names that are not kebab-case', () => {
    expect(() => new ComponentRegistry([{ ...identity, name: 'Bad Name' }])).toThrow(/kebab-case/);
  });
});
