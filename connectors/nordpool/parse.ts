import { OptiBidError } from '@optibid/runtime';
import { checkContentType, parseJsonSafe, finiteNumber, type Payload } from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { parseInstant, MINUTE_MS } from '../common/time.js';
import { price, type NormalizedRecord, type ParseOptions } from '../common/records.js';

/** What parsing one Nord Pool Data Portal response gave. */
export interface NordpoolParseResult {
  /** ok: prices found; not-published: the auction result is not out yet (version 0, no entries). */
  status: 'ok' | 'not-published';
  records: NormalizedRecord[];
  /** Delivery day (CET) and the publisher's version of it. */
  deliveryDate: string | null;
  version: number | null;
  /** Area → Final / Preliminary / ..., as the portal reports it. */
  areaStates: Record<string, string>;
  warnings: string[];
}

type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: ${msg}`, { context: { file: where } });
}

/**
 * Parses a Nord Pool Data Portal day-ahead response: `DayAheadPriceIndices` (multiIndexEntries, 15 or
 * 60 minutes, several areas) or `DayAheadPrices` (multiAreaEntries). Delivery intervals come from the
 * entries' own UTC start and end, so DST days need no special case. An area whose price is missing
 * (null) in an entry is skipped for that entry.
 */
export function parseNordpool(p: Payload, opts: ParseOptions): NordpoolParseResult {
  refuseErrorStatus(p);
  checkContentType(p, ['json']);
  if (p.status === 204 || (typeof p.body === 'string' ? p.body.trim() === '' : p.body.length === 0)) {
    // The portal answers 204 No Content for a day not yet published.
    return { status: 'not-published', records: [], deliveryDate: null, version: null, areaStates: {}, warnings: [] };
  }
  const doc = parseJsonSafe(p) as Obj;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) fail(p.where, 'expected a JSON object');
  const entries = (doc.multiIndexEntries ?? doc.multiAreaEntries) as Obj[] | undefined;
  if (!Array.isArray(entries))
    fail(p.where, 'no multiIndexEntries or multiAreaEntries array: not a Nord Pool day-ahead response');
  const version = typeof doc.version === 'number' ? doc.version : null;
  const deliveryDate = typeof doc.deliveryDateCET === 'string' ? doc.deliveryDateCET : null;
  const areaStates: Record<string, string> = {};
  for (const st of (doc.areaStates as Obj[] | undefined) ?? [])
    for (const a of (st.areas as string[]) ?? []) areaStates[a] = String(st.state);
  if (entries.length === 0) {
    return { status: 'not-published', records: [], deliveryDate, version, areaStates, warnings: [] };
  }
  const currency = typeof doc.currency === 'string' ? doc.currency : 'EUR';
  const publishedAt =
    typeof doc.updatedAt === 'string'
      ? parseInstant(doc.updatedAt.replace(/(\.\d{3})\d+Z$/, '$1Z'), `${p.where} updatedAt`)
      : null;
  const warnings: string[] = [];
  const records: NormalizedRecord[] = [];
  entries.forEach((e, i) => {
    const where = `${p.where} entry ${i + 1}`;
    const start = parseInstant(e.deliveryStart, `${where} deliveryStart`);
    const end = parseInstant(e.deliveryEnd, `${where} deliveryEnd`);
    const minutes = (end - start) / MINUTE_MS;
    if (![15, 30, 60].includes(minutes)) fail(where, `delivery interval of ${minutes} minutes (expected 15, 30 or 60)`);
    const perArea = e.entryPerArea as Obj | undefined;
    if (!perArea || typeof perArea !== 'object') fail(where, 'no entryPerArea object');
    for (const [area, v] of Object.entries(perArea)) {
      if (v === null) {
        warnings.push(`${where}: no price for ${area}`);
        continue;
      }
      records.push(
        price({
          market: 'NORDPOOL',
          area,
          product: 'DAY_AHEAD',
          deliveryStart: start,
          intervalMinutes: minutes,
          price: finiteNumber(v, `${where} ${area}`),
          currency,
          energyUnit: 'MWH',
          volumeMwh: null,
          publishedAt,
          ingestedAt: opts.now,
          source: 'nordpool',
        }),
      );
    }
  });
  return { status: 'ok', records, deliveryDate, version, areaStates, warnings };
}
