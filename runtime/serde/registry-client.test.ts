import { MemorySchemaLookup } from './registry-client.js';

describe('MemorySchemaLookup', () => {
  it('gives one id per distinct schema text, whatever the subject, and returns the schema by id', async () => {
    const registry = new MemorySchemaLookup();
    const a = { schema: '{"type":"string"}' };
    const b = { schema: '{"type":"long"}' };
    const idA = await registry.register('x-value', a);
    expect(await registry.register('y-value', { ...a })).toBe(idA);
    const idB = await registry.register('x-value', b);
    expect(idB).not.toBe(idA);
    expect(await registry.getBySubjectAndId(undefined, idB)).toEqual(b);
    expect(await registry.getBySubjectAndId('x-value', idA)).toEqual(a);
  });

  it('rejects an unknown id with a coded error', async () => {
    const registry = new MemorySchemaLookup();
    await registry.register('x-value', { schema: '"string"' });
    await expect(registry.getBySubjectAndId('x-value', 7)).rejects.toMatchObject({
      code: 'OPTIBID_ERR_UPSTREAM',
      message: expect.stringContaining('no schema with id 7'),
    });
  });
});
