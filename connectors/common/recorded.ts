import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse } from 'yaml';
import { OptiBidError } from '@optibid/runtime';
import type { Payload } from './payload.js';

/** One recorded HTTP exchange: what was asked and what came back. */
export interface RecordedExchange {
  method: string;
  /** Request path and query, e.g. /api?documentType=A44&... */
  target: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

type Obj = Record<string, unknown>;

function flattenHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: string, v: unknown): void => {
    out[k.toLowerCase()] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
  };
  if (Array.isArray(h)) for (const item of h) for (const [k, v] of Object.entries(item as Obj)) put(k, v);
  else if (h && typeof h === 'object') for (const [k, v] of Object.entries(h as Obj)) put(k, v);
  return out;
}

function pathOf(uri: string): string {
  if (uri.startsWith('/')) return uri;
  const u = new URL(uri);
  return `${u.pathname}${u.search}`;
}

/**
 * Reads a recorded HTTP cassette: the BrokenRecord.jl / HTTP.jl format (`responses:` with `request.target`)
 * or the VCR.py format (`interactions:` with `request.uri` and `response.body.string`).
 */
export function readCassette(file: string): RecordedExchange[] {
  const doc = parse(readFileSync(file, 'utf8')) as Obj;
  if (Array.isArray(doc.responses)) {
    return (doc.responses as Obj[]).map((r) => {
      const req = (r.request ?? {}) as Obj;
      return {
        method: String(req.method ?? 'GET'),
        target: pathOf(String(req.target ?? '/')),
        status: Number(r.status),
        headers: flattenHeaders(r.headers),
        body: String(r.body ?? ''),
      };
    });
  }
  if (Array.isArray(doc.interactions)) {
    return (doc.interactions as Obj[]).map((i) => {
      const req = i.request as Obj;
      const res = i.response as Obj;
      const body = res.body as Obj | string | undefined;
      const status = res.status as Obj | number;
      return {
        method: String(req.method ?? 'GET'),
        target: pathOf(String(req.uri)),
        status: typeof status === 'number' ? status : Number(status.code),
        headers: flattenHeaders(res.headers),
        body: typeof body === 'string' ? body : String(body?.string ?? ''),
      };
    });
  }
  throw new OptiBidError(
    'OPTIBID_ERR_DECODE',
    `${file}: not a recorded HTTP cassette (no responses: or interactions:)`,
  );
}

/**
 * Reads a recorded response or payload for `connector decode`: a cassette (.yml/.yaml) yields its first
 * response body with status and content type; anything else is read as raw bytes.
 */
export function readPayloadFile(file: string): Payload {
  if (/\.ya?ml$/i.test(file)) {
    const head = readFileSync(file, 'utf8').slice(0, 200);
    if (/^(responses|interactions):/m.test(head)) {
      const [first] = readCassette(file);
      if (!first) throw new OptiBidError('OPTIBID_ERR_DECODE', `${file}: the cassette holds no response`);
      return {
        body: first.body,
        status: first.status,
        contentType: first.headers['content-type'],
        where: basename(file),
      };
    }
  }
  return { body: new Uint8Array(readFileSync(file)), where: basename(file) };
}
