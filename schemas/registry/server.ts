import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { RegistryError } from './errors.js';
import { SchemaRegistry, type SchemaRequest } from './registry.js';
import type { RegistryStore } from './store.js';

const contentType = 'application/vnd.schemaregistry.v1+json';
export const registryVersion = '0.1.0-optibid';

type Params = { subject: string; version: string; id: string };
type Query = Record<string, string | undefined>;
type Req = FastifyRequest<{ Params: Params; Querystring: Query; Body: unknown }>;

const flag = (q: Query, name: string) => q[name] === 'true';

function schemaBody(req: Req): SchemaRequest {
  const body = req.body;
  if (body === null || typeof body !== 'object')
    throw RegistryError.invalidSchema('Invalid schema: the request body must be a JSON object with a "schema" string');
  return body as SchemaRequest;
}

function idParam(req: Req): number {
  const id = Number(req.params.id);
  if (!Number.isInteger(id)) throw RegistryError.schemaNotFound(`Schema ${req.params.id} not found`);
  return id;
}

/**
 * The Confluent Schema Registry REST API over a SchemaRegistry. Errors answer `{error_code, message}`
 * with Confluent's status and code; bodies are `application/vnd.schemaregistry.v1+json` (plain JSON
 * is accepted too).
 */
export function buildServer(
  store: RegistryStore,
  opts: { logger?: boolean } = {},
): { app: FastifyInstance; registry: SchemaRegistry } {
  const registry = new SchemaRegistry(store);
  const app = Fastify({ logger: opts.logger ?? false });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const e = new RegistryError(400, 400, `Unexpected character in the request body: ${(err as Error).message}`);
      done(e, undefined);
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-type', contentType);
    return payload;
  });
  app.setErrorHandler((err: unknown, _req, reply: FastifyReply) => {
    if (err instanceof RegistryError) return reply.status(err.status).send(err.toJSON());
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode < 500)
      return reply.status(e.statusCode).send({ error_code: e.statusCode, message: e.message });
    return reply.status(500).send({ error_code: 50001, message: `Error in the backend data store: ${e.message}` });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error_code: 404, message: `HTTP 404 Not Found: ${req.method} ${req.url}` }),
  );

  app.get('/', async () => ({}));
  app.get('/v1/metadata/version', async () => ({ version: registryVersion, commitId: 'optibid' }));
  app.get('/schemas/types', async () => ['AVRO']);
  app.get('/contexts', async () => ['.']);

  app.get('/subjects', async (req: Req) =>
    registry.subjects({ deleted: flag(req.query, 'deleted'), prefix: req.query.subjectPrefix }),
  );
  app.get('/subjects/:subject/versions', async (req: Req) =>
    registry.versions(req.params.subject, flag(req.query, 'deleted')),
  );
  app.post('/subjects/:subject/versions', async (req: Req) => {
    const v = await registry.register(req.params.subject, schemaBody(req));
    return { id: v.id, version: v.version };
  });
  app.get('/subjects/:subject/versions/:version', async (req: Req) =>
    registry.getVersion(req.params.subject, req.params.version, flag(req.query, 'deleted')),
  );
  app.get('/subjects/:subject/versions/:version/schema', async (req: Req, reply) => {
    const v = await registry.getVersion(req.params.subject, req.params.version, flag(req.query, 'deleted'));
    return reply.send(v.schema);
  });
  app.get('/subjects/:subject/versions/:version/referencedby', async (req: Req) => {
    await registry.getVersion(req.params.subject, req.params.version);
    return [];
  });
  app.post('/subjects/:subject', async (req: Req) =>
    registry.lookup(req.params.subject, schemaBody(req), flag(req.query, 'deleted')),
  );
  app.delete('/subjects/:subject', async (req: Req) =>
    registry.deleteSubject(req.params.subject, flag(req.query, 'permanent')),
  );
  app.delete('/subjects/:subject/versions/:version', async (req: Req) =>
    registry.deleteVersion(req.params.subject, req.params.version, flag(req.query, 'permanent')),
  );

  app.get('/schemas/ids/:id', async (req: Req) => registry.schemaById(idParam(req)));
  app.get('/schemas/ids/:id/schema', async (req: Req, reply) =>
    reply.send((await registry.schemaById(idParam(req))).schema),
  );
  app.get('/schemas/ids/:id/subjects', async (req: Req) =>
    registry.subjectsById(idParam(req), flag(req.query, 'deleted')),
  );
  app.get('/schemas/ids/:id/versions', async (req: Req) =>
    registry.versionsById(idParam(req), flag(req.query, 'deleted')),
  );

  const compatibility = async (req: Req, version: string | undefined) => {
    const messages = await registry.testCompatibility(req.params.subject, version, schemaBody(req));
    const out: { is_compatible: boolean; messages?: string[] } = { is_compatible: messages.length === 0 };
    if (flag(req.query, 'verbose')) out.messages = messages.map((m) => m.message);
    return out;
  };
  app.post('/compatibility/subjects/:subject/versions/:version', async (req: Req) =>
    compatibility(req, req.params.version),
  );
  app.post('/compatibility/subjects/:subject/versions', async (req: Req) => compatibility(req, undefined));

  const levelOf = (req: Req) => (req.body as { compatibility?: unknown } | null)?.compatibility;
  app.get('/config', async () => ({ compatibilityLevel: await registry.getConfig() }));
  app.put('/config', async (req: Req) => ({ compatibility: await registry.setConfig(undefined, levelOf(req)) }));
  app.delete('/config', async () => ({ compatibilityLevel: await registry.deleteConfig() }));
  app.get('/config/:subject', async (req: Req) => ({
    compatibilityLevel: await registry.getConfig(req.params.subject, flag(req.query, 'defaultToGlobal')),
  }));
  app.put('/config/:subject', async (req: Req) => ({
    compatibility: await registry.setConfig(req.params.subject, levelOf(req)),
  }));
  app.delete('/config/:subject', async (req: Req) => ({
    compatibilityLevel: await registry.deleteConfig(req.params.subject),
  }));

  const modeOf = (req: Req) => (req.body as { mode?: unknown } | null)?.mode;
  app.get('/mode', async () => ({ mode: await registry.getMode() }));
  app.put('/mode', async (req: Req) => ({ mode: await registry.setMode(undefined, modeOf(req)) }));
  app.get('/mode/:subject', async (req: Req) => ({
    mode: await registry.getMode(req.params.subject, flag(req.query, 'defaultToGlobal')),
  }));
  app.put('/mode/:subject', async (req: Req) => ({ mode: await registry.setMode(req.params.subject, modeOf(req)) }));
  app.delete('/mode/:subject', async (req: Req) => ({ mode: await registry.deleteMode(req.params.subject) }));

  app.addHook('onClose', async () => store.close());
  return { app, registry };
}

/** Starts a store and the server on `host:port` (port 0: any free port); resolves with the base URL. */
export async function startRegistry(
  store: RegistryStore,
  opts: { host?: string; port?: number; logger?: boolean } = {},
): Promise<{ url: string; app: FastifyInstance; registry: SchemaRegistry }> {
  await store.start();
  const { app, registry } = buildServer(store, { logger: opts.logger });
  const address = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8081 });
  return { url: address.replace('[::1]', '127.0.0.1'), app, registry };
}
