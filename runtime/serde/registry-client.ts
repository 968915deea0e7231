import { OptiBidError } from '../errors.js';

/** A schema as the registry stores it. */
export interface RegistrySchema {
  schema: string;
  schemaType?: string;
}

/**
 * The two registry calls a serde needs. `@confluentinc/schemaregistry`'s `SchemaRegistryClient` and
 * `MockClient` have this shape too, so either can stand in for `HttpRegistryClient`.
 */
export interface SchemaLookup {
  /** Registers (or finds) `schema` under `subject`; resolves with its global id. */
  register(subject: string, schema: RegistrySchema): Promise<number>;
  /** The schema with global id `id`. Rejects when the id is unknown. */
  getBySubjectAndId(subject: string | undefined, id: number): Promise<RegistrySchema>;
}

/**
 * A schema registry held in memory: one global id per distinct schema text, whatever the subject (as the
 * Confluent registry does). For benchmarks, tests and single-process tools that share one instance
 * between writer and readers; nothing survives the process.
 */
export class MemorySchemaLookup implements SchemaLookup {
  private readonly ids = new Map<string, number>();
  private readonly byId = new Map<number, RegistrySchema>();

  async register(_subject: string, schema: RegistrySchema): Promise<number> {
    let id = this.ids.get(schema.schema);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(schema.schema, id);
      this.byId.set(id, schema);
    }
    return id;
  }

  async getBySubjectAndId(_subject: string | undefined, id: number): Promise<RegistrySchema> {
    const schema = this.byId.get(id);
    if (!schema) throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `in-memory schema registry: no schema with id ${id}`);
    return schema;
  }
}

/** Thrown by HttpRegistryClient for a registry answer that is not a success. */
export class RegistryHttpError extends OptiBidError {
  constructor(
    readonly status: number,
    readonly errorCode: number | undefined,
    message: string,
    url: string,
  ) {
    super(
      'OPTIBID_ERR_UPSTREAM',
      `schema registry ${url}: HTTP ${status}${errorCode ? ` (error_code ${errorCode})` : ''}: ${message}`,
      {
        retriable: status >= 500,
        context: { service: 'registry', status, errorCode, url },
      },
    );
  }
}

/**
 * A small fetch-based client of the Confluent Schema Registry REST API (the serde's only network
 * dependency; loading the official client costs most of a second per process).
 */
export class HttpRegistryClient implements SchemaLookup {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          'content-type': 'application/vnd.schemaregistry.v1+json',
          accept: 'application/vnd.schemaregistry.v1+json, application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new OptiBidError(
        timedOut ? 'OPTIBID_ERR_TIMEOUT' : 'OPTIBID_ERR_NETWORK',
        `schema registry ${url} unreachable: ${(err as Error).message}`,
        {
          retriable: true,
          cause: err,
          context: { service: 'registry', url },
        },
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = json as { error_code?: number; message?: string } | undefined;
      throw new RegistryHttpError(res.status, e?.error_code, e?.message ?? text.slice(0, 200), url);
    }
    return json as T;
  }

  async register(subject: string, schema: RegistrySchema): Promise<number> {
    const res = await this.call<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, schema);
    return res.id;
  }

  /** The id `schema` has under `subject`, without registering it. */
  async lookup(subject: string, schema: RegistrySchema): Promise<number> {
    const res = await this.call<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}`, schema);
    return res.id;
  }

  async getBySubjectAndId(_subject: string | undefined, id: number): Promise<RegistrySchema> {
    return this.call<RegistrySchema>('GET', `/schemas/ids/${id}`);
  }

  /** The latest registered version of a subject. */
  async latest(subject: string): Promise<{ id: number; version: number; schema: string }> {
    return this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
  }
}
