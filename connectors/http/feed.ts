import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node as YamlNode } from 'yaml';
import type jsonata from 'jsonata';
import { OptiBidError } from '@optibid/runtime';
import { compileJsonata } from '../common/jsonata-env.js';
import { fieldNames, shapeableTopics, shapeRecord } from '../common/avro-shape.js';
import {
  asText,
  checkContentType,
  csvObjects,
  parseJsonSafe,
  parseXmlSafe,
  unzipSafe,
  type Payload,
} from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { compactUtc, isoUtc, localDay } from '../common/time.js';
import type { NormalizedRecord } from '../common/records.js';
import type { ParsedWindow } from '../common/poller.js';
import { subjectSchemas } from '@optibid/schemas';

/** Response formats a declarative feed reads. */
export const feedFormats = ['json', 'xml', 'csv', 'zip'] as const;
export type FeedFormat = (typeof feedFormats)[number];

/** A declarative HTTP feed, loaded from YAML and compiled. */
export interface DeclarativeFeed {
  name: string;
  file: string;
  topic: string;
  timeZone: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  format: FeedFormat;
  status?: jsonata.Expression;
  records?: jsonata.Expression;
  fields: [string, jsonata.Expression][];
}

const topKeys = ['name', 'topic', 'timeZone', 'request', 'format', 'status', 'records', 'fields'];
const requestKeys = ['url', 'headers', 'params'];

class YamlErrors {
  private readonly lc = new LineCounter();
  readonly doc: Document;
  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false });
    const first = this.doc.errors[0];
    if (first) {
      const { line, col } = this.lc.linePos(first.pos[0]);
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `${file}:${line}:${col}: invalid YAML: ${first.message.split('\n')[0]}`,
        { context: { file, line, column: col } },
      );
    }
  }
  /** file:line:col of the node at `path` (or of its parent key when absent). */
  where(path: (string | number)[]): string {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = (p.length ? this.doc.getIn(p, true) : this.doc.contents) as YamlNode | undefined;
      if (node?.range) {
        const { line, col } = this.lc.linePos(node.range[0]);
        return `${this.file}:${line}:${col}`;
      }
      if (p.length === 0) return this.file;
    }
  }
  keyWhere(path: (string | number)[], key: string): string {
    const parent = (path.length ? this.doc.getIn(path, true) : this.doc.contents) as YamlNode | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((i) => isScalar(i.key) && i.key.value === key);
      const range = (pair?.key as YamlNode | undefined)?.range;
      if (range) {
        const { line, col } = this.lc.linePos(range[0]);
        return `${this.file}:${line}:${col}`;
      }
    }
    return this.where(path);
  }
  fail(where: string, msg: string): never {
    const m = /:(\d+):(\d+)$/.exec(where);
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `${where}: ${msg}`, {
      context: { file: this.file, line: m ? Number(m[1]) : undefined, column: m ? Number(m[2]) : undefined },
    });
  }
}

function requiredFields(topic: string): string[] {
  const schema = subjectSchemas[`${topic}-value`] as { fields: { name: string; default?: unknown }[] };
  return schema.fields.filter((f) => f.default === undefined).map((f) => f.name);
}

/**
 * Loads and checks a declarative feed: unknown keys, a topic without a schema, fields not in the
 * topic's Avro schema, required fields without a mapping and JSONata that does not parse are all
 * errors naming file:line:col. Processing-time fields (ingestedAt, receivedAt) default to $now.
 */
export function loadFeed(file: string, text = readFileSync(file, 'utf8')): DeclarativeFeed {
  const y: YamlErrors = new YamlErrors(file, text);
  const root = y.doc.toJS() as Record<string, unknown> | null;
  if (!root || typeof root !== 'object' || Array.isArray(root))
    y.fail(y.where([]), 'a feed is a YAML mapping (name, topic, request, format, records, fields)');
  for (const k of Object.keys(root))
    if (!topKeys.includes(k)) y.fail(y.keyWhere([], k), `unknown key "${k}" (known: ${topKeys.join(', ')})`);
  const str = (path: string[], required: boolean): string | undefined => {
    const v = y.doc.getIn(path);
    if (v === undefined || v === null) {
      if (required) y.fail(y.where(path), `missing ${path.join('.')}`);
      return undefined;
    }
    if (typeof v !== 'string' && typeof v !== 'number') y.fail(y.where(path), `${path.join('.')} must be text`);
    return String(v);
  };
  const topic = str(['topic'], true)!;
  if (!(shapeableTopics as readonly string[]).includes(topic))
    y.fail(y.where(['topic']), `topic "${topic}" is not one a source writes (${shapeableTopics.join(', ')})`);
  const request = root.request as Record<string, unknown> | undefined;
  if (!request || typeof request !== 'object') y.fail(y.where(['request']), 'missing request (url, headers, params)');
  for (const k of Object.keys(request))
    if (!requestKeys.includes(k))
      y.fail(y.keyWhere(['request'], k), `unknown key "request.${k}" (known: ${requestKeys.join(', ')})`);
  const url = str(['request', 'url'], true)!;
  const mapOf = (path: string[]): Record<string, string> => {
    const v = y.doc.getIn(path) as unknown;
    if (v === undefined) return {};
    const js = (y.doc.getIn(path, true) as YamlNode & { toJSON(): unknown }).toJSON() as Record<string, unknown>;
    if (!js || typeof js !== 'object' || Array.isArray(js))
      y.fail(y.where(path), `${path.join('.')} must be a mapping`);
    return Object.fromEntries(Object.entries(js).map(([k, val]) => [k, String(val)]));
  };
  const format = (str(['format'], false) ?? 'json') as FeedFormat;
  if (!feedFormats.includes(format))
    y.fail(y.where(['format']), `format "${format}" is not one of ${feedFormats.join(', ')}`);
  const expr = (path: string[]): jsonata.Expression | undefined => {
    const t = str(path, false);
    return t === undefined ? undefined : compileJsonata(t, y.where(path));
  };
  const fieldsNode = root.fields as Record<string, unknown> | undefined;
  if (!fieldsNode || typeof fieldsNode !== 'object' || Array.isArray(fieldsNode))
    y.fail(y.where(['fields']), 'missing fields: one JSONata expression per Avro field of the topic');
  const names = fieldNames(topic);
  for (const k of Object.keys(fieldsNode))
    if (!names.includes(k))
      y.fail(y.keyWhere(['fields'], k), `"${k}" is not a field of ${topic} (${names.join(', ')})`);
  const processing = topic === 'telemetry.readings' ? 'receivedAt' : 'ingestedAt';
  const missing = requiredFields(topic).filter((f) => !(f in fieldsNode) && f !== processing);
  if (missing.length) y.fail(y.where(['fields']), `no mapping for required field(s) ${missing.join(', ')} of ${topic}`);
  const fields: [string, jsonata.Expression][] = Object.keys(fieldsNode).map((k) => [k, expr(['fields', k])!]);
  if (!(processing in fieldsNode)) fields.push([processing, compileJsonata('$now', `${file}: ${processing}`)]);
  return {
    name: str(['name'], false) ?? basename(file).replace(/\.ya?ml$/, ''),
    file,
    topic,
    timeZone: str(['timeZone'], false) ?? 'UTC',
    url,
    headers: mapOf(['request', 'headers']),
    params: mapOf(['request', 'params']),
    format,
    status: expr(['status']),
    records: expr(['records']),
    fields,
  };
}

/** Replaces `${VAR}` with the environment's value; a missing variable is a config error. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined || v === '')
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `${where}: environment variable ${name} is not set`);
    return v;
  });
}

/**
 * The URL of one delivery date: {date} (YYYY-MM-DD), {dateCompact} (YYYYMMDD), {start}/{end} (ISO UTC
 * of the local delivery day), {startCompact}/{endCompact} (yyyyMMddHHmm UTC), {params}, ${ENV}.
 */
export function feedUrl(feed: DeclarativeFeed, date: string, env: NodeJS.ProcessEnv): string {
  const { start, end } = localDay(date, feed.timeZone);
  const vars: Record<string, string> = {
    ...feed.params,
    date,
    dateCompact: date.replaceAll('-', ''),
    start: isoUtc(start),
    end: isoUtc(end),
    startCompact: compactUtc(start),
    endCompact: compactUtc(end),
  };
  const filled = feed.url.replace(/\{([A-Za-z]+)\}/g, (m, name: string) =>
    name in vars ? encodeURIComponent(vars[name]).replaceAll('%2C', ',') : m,
  );
  const unknown = /\{([A-Za-z]+)\}/.exec(filled);
  if (unknown)
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `${feed.file}: request.url uses {${unknown[1]}}, which is neither a date placeholder nor in request.params`,
    );
  return expandEnv(filled, env, `${feed.file}: request.url`);
}

function bodyOf(feed: DeclarativeFeed, p: Payload): unknown {
  switch (feed.format) {
    case 'json':
      checkContentType(p, ['json']);
      return parseJsonSafe(p);
    case 'xml':
      checkContentType(p, ['xml']);
      return parseXmlSafe(p);
    case 'csv':
      checkContentType(p, ['csv', 'text/plain', 'octet-stream']);
      return csvObjects(asText(p.body), p.where).map((r) => r.row);
    case 'zip': {
      checkContentType(p, ['zip', 'octet-stream']);
      const docs = unzipSafe(p).map((e) => {
        const inner: Payload = { body: e.data, where: `${p.where}!${e.name}` };
        if (/\.json$/i.test(e.name)) return parseJsonSafe(inner);
        if (/\.xml$/i.test(e.name)) return parseXmlSafe(inner);
        return csvObjects(asText(e.data), inner.where).map((r) => r.row);
      });
      return docs.length === 1 ? docs[0] : docs;
    }
  }
}

/**
 * Runs a declarative feed's mapping on one response: parse by format, `status` decides ok / no-data /
 * not-published, `records` selects the items, and each field's JSONata (bound: $doc, $now, $date)
 * gives the value, shaped to the topic's Avro schema.
 */
export async function runFeed(feed: DeclarativeFeed, p: Payload, now: number, date?: string): Promise<ParsedWindow> {
  refuseErrorStatus(p);
  const doc = bodyOf(feed, p);
  const bindings = { doc, now, date };
  const evaluate = async (e: jsonata.Expression, input: unknown, what: string): Promise<unknown> => {
    try {
      return await e.evaluate(input, bindings);
    } catch (err) {
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${p.where}: ${what}: ${(err as Error).message}`, {
        context: { file: p.where },
      });
    }
  };
  let status: ParsedWindow['status'] = 'ok';
  if (feed.status) {
    const s = await evaluate(feed.status, doc, 'status');
    if (s !== 'ok' && s !== 'no-data' && s !== 'not-published')
      throw new OptiBidError(
        'OPTIBID_ERR_DECODE',
        `${p.where}: status gave ${JSON.stringify(s)} (expected ok, no-data or not-published)`,
      );
    status = s;
  }
  if (status !== 'ok') return { status, records: [], warnings: [] };
  const selected = feed.records ? await evaluate(feed.records, doc, 'records') : doc;
  const items = selected === undefined ? [] : Array.isArray(selected) ? selected : [selected];
  const records: NormalizedRecord[] = [];
  for (let i = 0; i < items.length; i++) {
    const obj: Record<string, unknown> = {};
    for (const [name, e] of feed.fields) {
      const v = await evaluate(e, items[i], `record ${i + 1} field ${name}`);
      obj[name] = v === undefined ? null : v;
    }
    records.push(shapeRecord(feed.topic, obj, `${p.where} record ${i + 1}`));
  }
  return { status: records.length ? 'ok' : 'no-data', records, warnings: [] };
}
