import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { unzipSync } from 'fflate';
import { OptiBidError } from '@optibid/runtime';
import { jsonErrorIndex } from './json-locate.js';

/** Limits applied to every payload before parsing: hostile or broken input is refused early. */
export interface PayloadLimits {
  /** Largest body accepted, in bytes (default 20 MiB). */
  maxBytes: number;
  /** Largest total size of the files inside a zip, in bytes (default 100 MiB). */
  maxUnzippedBytes: number;
  /** Highest accepted compression ratio of a zip entry (default 200: zip bombs are far above). */
  maxZipRatio: number;
  /** Most entries accepted in one zip (default 100). */
  maxZipEntries: number;
}

export const defaultLimits: PayloadLimits = {
  maxBytes: 20 * 1024 * 1024,
  maxUnzippedBytes: 100 * 1024 * 1024,
  maxZipRatio: 200,
  maxZipEntries: 100,
};

/** A response body with what is known about it; `where` names it in errors (file name or URL). */
export interface Payload {
  body: Uint8Array | string;
  contentType?: string;
  status?: number;
  where: string;
}

function decodeError(where: string, message: string, cause?: unknown): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_DECODE', `${where}: ${message}`, { context: { file: where }, cause });
}

export function asText(body: Uint8Array | string): string {
  return typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: false }).decode(body);
}

function byteLength(body: Uint8Array | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** Throws when the body is bigger than the limit. */
export function checkSize(p: Payload, limits: PayloadLimits = defaultLimits): void {
  const n = byteLength(p.body);
  if (n > limits.maxBytes) throw decodeError(p.where, `body of ${n} bytes exceeds the ${limits.maxBytes}-byte limit`);
}

/** True when a text looks like an HTML page (a proxy error, a login page, a maintenance notice). */
export function looksLikeHtml(text: string): boolean {
  const head = text.slice(0, 512).trimStart().toLowerCase();
  return (
    head.startsWith('<!doctype html') ||
    head.startsWith('<html') ||
    /^<\?xml[^>]*>\s*<!doctype html/.test(head) ||
    /^<head[\s>]/.test(head)
  );
}

function htmlTitle(text: string): string {
  const m = /<title[^>]*>([^<]{0,200})<\/title>/i.exec(text);
  return m ? m[1].trim() : text.slice(0, 80).replace(/\s+/g, ' ');
}

/** Refuses an HTML page where data was expected, whatever the HTTP status. */
export function refuseHtml(p: Payload, text: string): void {
  if (looksLikeHtml(text) || /text\/html/i.test(p.contentType ?? '')) {
    throw new OptiBidError(
      'OPTIBID_ERR_UPSTREAM',
      `${p.where}: received an HTML page${p.status ? ` with HTTP ${p.status}` : ''} where data was expected ("${htmlTitle(text)}")`,
      {
        context: { file: p.where },
      },
    );
  }
}

/** Refuses a declared content type that is not one of `accepted` (substring match); absent types pass. */
export function checkContentType(p: Payload, accepted: string[]): void {
  const ct = p.contentType?.toLowerCase();
  if (!ct) return;
  if (ct.includes('text/html') && !accepted.some((a) => ct.includes(a))) refuseHtml(p, asText(p.body));
  if (!accepted.some((a) => ct.includes(a))) {
    throw new OptiBidError(
      'OPTIBID_ERR_UPSTREAM',
      `${p.where}: unexpected content type "${p.contentType}" (expected ${accepted.join(' or ')})`,
      {
        context: { file: p.where },
      },
    );
  }
}

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (_name, jpath) => typeof jpath === 'string' && /(^|\.)(TimeSeries|Period|Point|Reason)$/.test(jpath),
});

/** Line and column of a byte offset in `text`, 1-based. */
export function lineCol(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, col: index - before.lastIndexOf('\n') };
}

/**
 * Parses XML safely: DOCTYPE and entity declarations are refused outright (no entity expansion,
 * no external entities), the size is capped, and a document that is not well-formed (e.g. truncated)
 * is refused with the line and column of the first error. Namespace prefixes are removed.
 */
export function parseXmlSafe(p: Payload, limits: PayloadLimits = defaultLimits): Record<string, unknown> {
  checkSize(p, limits);
  const text = asText(p.body);
  refuseHtml(p, text);
  const doctype = /<!DOCTYPE|<!ENTITY/i.exec(text);
  if (doctype) {
    const { line, col } = lineCol(text, doctype.index);
    throw decodeError(
      `${p.where}:${line}:${col}`,
      'XML with a DOCTYPE or entity declaration is refused (entity expansion and external entities are not allowed)',
    );
  }
  if (!text.trimStart().startsWith('<'))
    throw decodeError(p.where, `not XML: starts with "${text.trimStart().slice(0, 40)}"`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { line, col, msg } = valid.err;
    const unclosed = /^Invalid '\[(.*)\]' found/s.exec(msg);
    if (unclosed) {
      // The validator reports unclosed elements at 1:1; the problem is at the end of the text.
      const end = lineCol(text, text.trimEnd().length);
      const tags = unclosed[1]
        .replace(/["\s]/g, '')
        .split(',')
        .reverse()
        .map((t) => `<${t}>`);
      throw decodeError(
        `${p.where}:${end.line}:${end.col}`,
        `XML ends before closing ${tags.join(', ')} (truncated document?)`,
      );
    }
    throw decodeError(`${p.where}:${line}:${col}`, `malformed XML (${msg})`);
  }
  try {
    return xmlParser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw decodeError(p.where, `malformed XML (${(err as Error).message})`, err);
  }
}

/** Parses JSON with a size cap; errors name the position (line:col) of the problem. */
export function parseJsonSafe(p: Payload, limits: PayloadLimits = defaultLimits): unknown {
  checkSize(p, limits);
  const text = asText(p.body);
  refuseHtml(p, text);
  try {
    return JSON.parse(text);
  } catch (err) {
    if (text.trim() === '') throw decodeError(p.where, 'empty body where JSON was expected');
    const at = jsonErrorIndex(text);
    const where = at >= 0 ? `${p.where}:${lineCol(text, at).line}:${lineCol(text, at).col}` : p.where;
    throw decodeError(where, `malformed JSON (${(err as Error).message})`, err);
  }
}

/** One file taken out of a zip. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

/**
 * Unzips a body with guards: the PK signature must be present, entry count, declared sizes and
 * compression ratios are capped before anything is inflated, and macOS metadata (`__MACOSX/`,
 * `.DS_Store`) and empty files are dropped. A zip holding nothing usable is an error.
 */
export function unzipSafe(p: Payload, limits: PayloadLimits = defaultLimits): ZipEntry[] {
  checkSize(p, limits);
  const bytes = typeof p.body === 'string' ? Buffer.from(p.body, 'latin1') : p.body;
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || (bytes[2] !== 0x03 && bytes[2] !== 0x05)) {
    const text = asText(bytes.slice(0, 512));
    refuseHtml(p, text);
    throw decodeError(p.where, `not a zip archive (starts with ${JSON.stringify(text.slice(0, 20))})`);
  }
  let total = 0;
  let count = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        count += 1;
        if (count > limits.maxZipEntries)
          throw decodeError(p.where, `zip holds more than ${limits.maxZipEntries} entries`);
        if (f.name.startsWith('__MACOSX/') || f.name.endsWith('/') || /(^|\/)\.DS_Store$/.test(f.name)) return false;
        total += f.originalSize;
        if (total > limits.maxUnzippedBytes)
          throw decodeError(p.where, `zip expands beyond ${limits.maxUnzippedBytes} bytes`);
        if (f.size > 0 && f.originalSize / f.size > limits.maxZipRatio) {
          throw decodeError(
            p.where,
            `zip entry ${f.name} has a compression ratio of ${Math.round(f.originalSize / f.size)} (limit ${limits.maxZipRatio}): refused as a zip bomb`,
          );
        }
        return true;
      },
    });
  } catch (err) {
    if (err instanceof OptiBidError) throw err;
    throw decodeError(p.where, `corrupt zip (${(err as Error).message})`, err);
  }
  const entries = Object.entries(files)
    .filter(([, data]) => data.length > 0)
    .map(([name, data]) => ({ name, data }));
  const actual = entries.reduce((n, e) => n + e.data.length, 0);
  if (actual > limits.maxUnzippedBytes)
    throw decodeError(p.where, `zip expands beyond ${limits.maxUnzippedBytes} bytes`);
  if (entries.length === 0) throw decodeError(p.where, 'zip holds no usable file (only empty files or metadata)');
  return entries;
}

/**
 * Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows of strings.
 * An unterminated quote is an error naming its line.
 */
export function parseCsv(text: string, where: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let quoteLine = 0;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else field += c;
  }
  if (quoted) throw decodeError(`${where}:${quoteLine}`, 'unterminated quoted CSV field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** CSV rows as objects keyed by the header row; `line` is the 1-based line of each row in the file. */
export function csvObjects(text: string, where: string): { line: number; row: Record<string, string> }[] {
  const rows = parseCsv(text, where);
  if (rows.length === 0) throw decodeError(where, 'empty CSV');
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((r, i) => {
    if (r.length !== header.length)
      throw decodeError(`${where}:${i + 2}`, `CSV row has ${r.length} fields, header has ${header.length}`);
    return { line: i + 2, row: Object.fromEntries(header.map((h, j) => [h, r[j]])) };
  });
}

/** A finite number from a text or number; throws naming `what` otherwise (NaN, "nan", "", Infinity are refused). */
export function finiteNumber(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n))
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${what}: ${JSON.stringify(v)} is not a finite number`);
  return n;
}
