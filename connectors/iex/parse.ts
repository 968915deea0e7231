import { OptiBidError } from '@optibid/runtime';
import type { MarketProduct } from '@optibid/schemas';
import { checkContentType, parseJsonSafe, finiteNumber, type Payload } from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { MINUTE_MS } from '../common/time.js';
import { price, type NormalizedRecord, type ParseOptions } from '../common/records.js';

/** IST is UTC+05:30 all year (India has no DST). */
export const IST_OFFSET_MINUTES = 330;
export const BLOCK_MINUTES = 15;
export const BLOCKS_PER_DAY = 96;

/** IEX segments and how they map onto market.prices. */
export const iexSegments: Record<string, { product: MarketProduct; source: string }> = {
  DAM: { product: 'DAY_AHEAD', source: 'iex' },
  GDAM: { product: 'DAY_AHEAD', source: 'iex:gdam' },
  HPDAM: { product: 'DAY_AHEAD', source: 'iex:hpdam' },
  RTM: { product: 'REAL_TIME', source: 'iex' },
};

export interface IexParseOptions extends ParseOptions {
  /** Market segment the response is for (the response itself does not say): DAM, GDAM, HPDAM or RTM. */
  segment?: string;
  /** Emit each bid area as well as All-India (default true). */
  areas?: boolean;
}

export interface IexParseResult {
  records: NormalizedRecord[];
  /** Delivery date (YYYY-MM-DD, IST) → number of blocks with a price: fewer than 96 for a partial day. */
  blocks: Record<string, number>;
  warnings: string[];
}

type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: ${msg}`, { context: { file: where } });
}

/** UTC start of block `token` (1..96) of IST delivery date `dd/mm/yyyy`. */
export function blockStart(date: string, token: number): number {
  const m = /^(\d\d)\/(\d\d)\/(\d{4})$/.exec(date);
  if (!m) throw new OptiBidError('OPTIBID_ERR_DECODE', `DeliveryDate "${date}" is not dd/mm/yyyy`);
  return (
    Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1])) -
    IST_OFFSET_MINUTES * MINUTE_MS +
    (token - 1) * BLOCK_MINUTES * MINUTE_MS
  );
}

/**
 * Parses an IEX India GetTradeData price/volume response: per delivery date, 96 fifteen-minute blocks
 * ("tokens") in IST, with the All-India market clearing price (₹/MWh) and cleared volume, and each bid
 * area's price. Volumes are published in MW; volumeMwh = MW × 0.25 h. Blocks not cleared yet (partial
 * days) are simply absent or have a null price and are skipped.
 */
export function parseIex(p: Payload, opts: IexParseOptions): IexParseResult {
  refuseErrorStatus(p);
  checkContentType(p, ['json']);
  const doc = parseJsonSafe(p) as Obj;
  if (!doc || typeof doc !== 'object') fail(p.where, 'expected a JSON object');
  if (doc.Status === false) {
    throw new OptiBidError(
      'OPTIBID_ERR_UPSTREAM',
      `${p.where}: IEX answered Status false: ${String(doc.Message ?? 'no message')}`,
    );
  }
  const days = doc.Delivery_Date_Details;
  if (!Array.isArray(days)) fail(p.where, 'no Delivery_Date_Details array: not an IEX trade data response');
  const segment = (opts.segment ?? 'DAM').toUpperCase();
  const seg = iexSegments[segment];
  if (!seg)
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `unknown IEX segment "${opts.segment}" (known: ${Object.keys(iexSegments).join(', ')})`,
    );
  const records: NormalizedRecord[] = [];
  const blocks: Record<string, number> = {};
  const warnings: string[] = [];
  // Fields in the schema's order, so decoded JSON lines read like the Avro record.
  const make = (area: string, deliveryStart: number, value: number, volumeMwh: number | null): NormalizedRecord =>
    price({
      market: 'IEX',
      area,
      product: seg.product,
      deliveryStart,
      intervalMinutes: BLOCK_MINUTES,
      price: value,
      currency: 'INR',
      energyUnit: 'MWH',
      volumeMwh,
      publishedAt: null,
      ingestedAt: opts.now,
      source: seg.source,
    });
  (days as Obj[]).forEach((day, d) => {
    const date = String(day.DeliveryDate);
    const dwhere = `${p.where} Delivery_Date_Details[${d}] (${date})`;
    const tokens = day.Token_Wise;
    if (!Array.isArray(tokens)) fail(dwhere, 'no Token_Wise array');
    const seen = new Set<number>();
    for (const t of tokens as Obj[]) {
      const token = t.Token_NO;
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 1 || token > BLOCKS_PER_DAY)
        fail(dwhere, `Token_NO ${JSON.stringify(token)} is not a block 1-96`);
      if (seen.has(token)) fail(dwhere, `Token_NO ${token} appears twice`);
      seen.add(token);
      const where = `${dwhere} Token_NO ${token}`;
      const start = blockStart(date, token);
      const all = t.All_India_DAM_GDAM_RTM as Obj | null | undefined;
      if (!all || all.Clearing_Price === null || all.Clearing_Price === undefined) {
        warnings.push(`${where}: no clearing price yet; skipped`);
        continue;
      }
      const iso = new Date(blockStart(date, 1) + IST_OFFSET_MINUTES * MINUTE_MS).toISOString().slice(0, 10);
      blocks[iso] = (blocks[iso] ?? 0) + 1;
      const mcv =
        all.Cleared_Volume === null || all.Cleared_Volume === undefined
          ? null
          : finiteNumber(all.Cleared_Volume, `${where} Cleared_Volume`);
      const mcp = finiteNumber(all.Clearing_Price, `${where} Clearing_Price`);
      records.push(make('ALL-INDIA', start, mcp, mcv === null ? null : (mcv * BLOCK_MINUTES) / 60));
      if (opts.areas === false) continue;
      for (const a of (t.Area_Details as Obj[] | undefined) ?? []) {
        const codes = a.Area_Codes as Obj | undefined;
        if (!codes || codes.Area_Price === null || codes.Area_Price === undefined) continue;
        const area = String(a.Area_code);
        records.push(make(area, start, finiteNumber(codes.Area_Price, `${where} area ${area} Area_Price`), null));
      }
    }
  });
  return { records, blocks, warnings };
}
