import type { FastifyInstance } from 'fastify';
import { startRegistry } from './server.js';
import { MemoryStore } from './store.js';

const ct = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
const rec = (fields: object[]) =>
  JSON.stringify({ type: 'record', name: 'Reading', namespace: 'energy.optibid', fields });
const v1 = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'double' },
]);
const v2 = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'double' },
  { name: 'unit', type: 'string', default: 'kW' },
]);
const breaking = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'string' },
]);

let app: FastifyInstance;
let base: string;
beforeEach(async () => {
  const started = await startRegistry(new MemoryStore(), { port: 0 });
  app = started.app;
  base = started.url;
});
afterEach(() => app.close());

// Light-my-request (inject) cannot load under Jest's ESM mode, so these go through a real socket.
const raw = (method: string, url: string, body?: unknown) =>
  fetch(`${base}${url}`, { method, headers: ct, body: body === undefined ? undefined : JSON.stringify(body) });
const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
  const res = await raw(method, url, body);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, type: res.headers.get('content-type') };
};

describe('registry REST API (memory store)', () => {
  it('registers, dedups, versions and looks up schemas', async () => {
    const a = await call('POST', '/subjects/t-value/versions', { schema: v1 });
    expect(a.status).toBe(200);
    expect(a.type).toContain('application/vnd.schemaregistry.v1+json');
    const again = await call('POST', '/subjects/t-value/versions', { schema: JSON.stringify(JSON.parse(v1), null, 2) });
    expect(again.body.id).toBe(a.body.id);
    const b = await call('POST', '/subjects/t-value/versions', { schema: v2 });
    expect(b.body.id).not.toBe(a.body.id);
    expect((await call('GET', '/subjects/t-value/versions')).body).toEqual([1, 2]);
    const latest = await call('GET', '/subjects/t-value/versions/latest');
    expect(latest.body).toMatchObject({ subject: 't-value', version: 2, id: b.body.id });
    expect(JSON.parse(latest.body.schema)).toEqual(JSON.parse(v2));
    expect(JSON.parse(await (await raw('GET', '/subjects/t-value/versions/1/schema')).text())).toEqual(JSON.parse(v1));
    expect((await call('POST', '/subjects/t-value', { schema: v1 })).body).toMatchObject({ version: 1, id: a.body.id });
    expect((await call('GET', '/subjects')).body).toEqual(['t-value']);
  });

  it('shares one id for the same schema across subjects', async () => {
    const a = await call('POST', '/subjects/a-value/versions', { schema: v1 });
    const b = await call('POST', '/subjects/b-value/versions', { schema: v1 });
    expect(b.body.id).toBe(a.body.id);
    expect((await call('GET', `/schemas/ids/${a.body.id}/subjects`)).body).toEqual(['a-value', 'b-value']);
    expect((await call('GET', `/schemas/ids/${a.body.id}/versions`)).body).toEqual([
      { subject: 'a-value', version: 1 },
      { subject: 'b-value', version: 1 },
    ]);
    expect(JSON.parse((await call('GET', `/schemas/ids/${a.body.id}`)).body.schema)).toEqual(JSON.parse(v1));
  });

  it('answers Confluent error codes', async () => {
    expect((await call('GET', '/subjects/nope/versions')).body.error_code).toBe(40401);
    await call('POST', '/subjects/t-value/versions', { schema: v1 });
    const nov = await call('GET', '/subjects/t-value/versions/7');
    expect([nov.status, nov.body.error_code]).toEqual([404, 40402]);
    expect((await call('GET', '/schemas/ids/999999')).body.error_code).toBe(40403);
    expect((await call('POST', '/subjects/t-value', { schema: v2 })).body.error_code).toBe(40403);
    const invalid = await call('POST', '/subjects/t-value/versions', {
      schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}',
    });
    expect([invalid.status, invalid.body.error_code]).toEqual([422, 42201]);
    const notJson = await call('POST', '/subjects/t-value/versions', { schema: '{' });
    expect(notJson.body.error_code).toBe(42201);
    expect((await call('GET', '/subjects/t-value/versions/abc')).body.error_code).toBe(42202);
    expect((await call('PUT', '/config', { compatibility: 'SIDEWAYS' })).body.error_code).toBe(42203);
    const incompatible = await call('POST', '/subjects/t-value/versions', { schema: breaking });
    expect(incompatible.status).toBe(409);
    expect(incompatible.body.message).toContain('Reading.value');
  });

  it('tests compatibility with verbose messages', async () => {
    await call('POST', '/subjects/t-value/versions', { schema: v1 });
    expect((await call('POST', '/compatibility/subjects/t-value/versions/latest', { schema: v2 })).body).toEqual({
      is_compatible: true,
    });
    const res = await call('POST', '/compatibility/subjects/t-value/versions/latest?verbose=true', {
      schema: breaking,
    });
    expect(res.body.is_compatible).toBe(false);
    expect(res.body.messages[0]).toMatch(/Reading\.value.*string in the reader but double in the writer/);
    expect((await call('POST', '/compatibility/subjects/other/versions/latest', { schema: v2 })).body.error_code).toBe(
      40401,
    );
  });

  it('soft-deletes, then hard-deletes, and never reuses ids', async () => {
    const one = await call('POST', '/subjects/t-value/versions', { schema: v1 });
    const two = await call('POST', '/subjects/t-value/versions', { schema: v2 });
    expect((await call('DELETE', '/subjects/t-value/versions/2?permanent=true')).body.error_code).toBe(40407);
    expect((await call('DELETE', '/subjects/t-value/versions/2')).body).toBe(2);
    expect((await call('DELETE', '/subjects/t-value/versions/2')).body.error_code).toBe(40406);
    expect((await call('GET', '/subjects/t-value/versions')).body).toEqual([1]);
    expect((await call('GET', '/subjects/t-value/versions?deleted=true')).body).toEqual([1, 2]);
    expect((await call('GET', `/schemas/ids/${two.body.id}`)).status).toBe(200); // still readable by id
    expect((await call('DELETE', '/subjects/t-value/versions/2?permanent=true')).body).toBe(2);
    expect((await call('GET', `/schemas/ids/${two.body.id}`)).body.error_code).toBe(40403);

    expect((await call('DELETE', '/subjects/t-value?permanent=true')).body.error_code).toBe(40405);
    expect((await call('DELETE', '/subjects/t-value')).body).toEqual([1]);
    expect((await call('DELETE', '/subjects/t-value')).body.error_code).toBe(40404);
    expect((await call('GET', '/subjects')).body).toEqual([]);
    expect((await call('GET', '/subjects?deleted=true')).body).toEqual(['t-value']);
    expect((await call('DELETE', '/subjects/t-value?permanent=true')).body).toEqual([1]);
    expect((await call('GET', '/subjects?deleted=true')).body).toEqual([]);

    const again = await call('POST', '/subjects/t-value/versions', { schema: v2 });
    expect([one.body.id, two.body.id]).not.toContain(again.body.id);
    expect(again.body.id).toBeGreaterThan(two.body.id);
  });

  it('keeps global and per-subject compatibility config', async () => {
    expect((await call('GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect((await call('GET', '/config/t-value')).body.error_code).toBe(40408);
    expect((await call('GET', '/config/t-value?defaultToGlobal=true')).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    await call('POST', '/subjects/t-value/versions', { schema: v1 });
    expect((await call('PUT', '/config/t-value', { compatibility: 'NONE' })).body).toEqual({ compatibility: 'NONE' });
    expect((await call('POST', '/subjects/t-value/versions', { schema: breaking })).status).toBe(200);
    expect((await call('DELETE', '/config/t-value')).body).toEqual({ compatibilityLevel: 'NONE' });
    const back = rec([
      { name: 'assetId', type: 'string' },
      { name: 'value', type: 'long' },
    ]);
    expect((await call('POST', '/subjects/t-value/versions', { schema: back })).status).toBe(409);
    expect((await call('PUT', '/config', { compatibility: 'FORWARD_TRANSITIVE' })).body).toEqual({
      compatibility: 'FORWARD_TRANSITIVE',
    });
    expect((await call('GET', '/config')).body).toEqual({ compatibilityLevel: 'FORWARD_TRANSITIVE' });
  });

  it('refuses registrations in READONLY mode', async () => {
    expect((await call('GET', '/mode')).body).toEqual({ mode: 'READWRITE' });
    expect((await call('PUT', '/mode', { mode: 'READONLY' })).body).toEqual({ mode: 'READONLY' });
    const res = await call('POST', '/subjects/t-value/versions', { schema: v1 });
    expect([res.status, res.body.error_code]).toEqual([422, 42205]);
    expect((await call('PUT', '/mode', { mode: 'WHATEVER' })).body.error_code).toBe(42204);
    await call('PUT', '/mode', { mode: 'READWRITE' });
    expect((await call('POST', '/subjects/t-value/versions', { schema: v1 })).status).toBe(200);
  });
});
