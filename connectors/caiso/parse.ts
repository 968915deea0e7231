import { OptiBidError } from '@optibid/runtime';
import type { FundamentalBasis, MarketProduct } from '@optibid/schemas';
import {
  asText,
  checkContentType,
  csvObjects,
  finiteNumber,
  parseXmlSafe,
  unzipSafe,
  type Payload,
  type PayloadLimits,
  defaultLimits,
} from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { MINUTE_MS } from '../common/time.js';
import { fundamental, price, type NormalizedRecord, type ParseOptions } from '../common/records.js';

/** OASIS MARKET_RUN_ID of load forecasts → basis (2DA and 5-minute RTD have no basis and are skipped). */
export const loadBasis: Record<string, FundamentalBasis> = {
  DAM: 'DAY_AHEAD_FORECAST',
  '7DA': 'WEEK_AHEAD_FORECAST',
  ACTUAL: 'ACTUAL',
  RTM: 'INTRADAY_FORECAST',
};

/** OASIS MARKET_RUN_ID of prices → product. */
export const priceProducts: Record<string, MarketProduct> = {
  DAM: 'DAY_AHEAD',
  RUC: 'DAY_AHEAD',
  HASP: 'INTRADAY_AUCTION',
  RTM: 'REAL_TIME',
  RTPD: 'REAL_TIME',
};

export interface CaisoParseResult {
  /** no-data: the OASIS error zip (e.g. ERR_CODE 1000, no data for the selection). */
  status: 'ok' | 'no-data';
  records: NormalizedRecord[];
  warnings: string[];
  reason?: string;
}

export interface CaisoParseOptions extends ParseOptions {
  limits?: PayloadLimits;
}

/** OASIS timestamps look like 2023-08-13T01:00:00-00:00. */
function oasisTime(v: string, where: string): number {
  const ms = Date.parse(v);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v) || Number.isNaN(ms))
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: "${v}" is not an OASIS timestamp`);
  return ms;
}

function parseCsvReport(
  name: string,
  text: string,
  opts: CaisoParseOptions,
  records: NormalizedRecord[],
  skipped: Map<string, number>,
): void {
  const rows = csvObjects(text, name);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0].row);
  for (const need of ['INTERVALSTARTTIME_GMT', 'INTERVALENDTIME_GMT', 'MARKET_RUN_ID', 'MW']) {
    if (!cols.includes(need))
      throw new OptiBidError(
        'OPTIBID_ERR_DECODE',
        `${name}:1: CSV lacks the ${need} column (not an OASIS report this connector reads)`,
      );
  }
  const isLoad = cols.includes('TAC_AREA_NAME');
  const isPrice = cols.includes('LMP_TYPE') && cols.includes('NODE');
  if (!isLoad && !isPrice)
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `${name}:1: neither a load (TAC_AREA_NAME) nor a price (NODE, LMP_TYPE) report`,
    );
  const skip = (why: string): void => void skipped.set(why, (skipped.get(why) ?? 0) + 1);
  for (const { line, row } of rows) {
    const where = `${name}:${line}`;
    const start = oasisTime(row.INTERVALSTARTTIME_GMT, `${where} INTERVALSTARTTIME_GMT`);
    const minutes = (oasisTime(row.INTERVALENDTIME_GMT, `${where} INTERVALENDTIME_GMT`) - start) / MINUTE_MS;
    if (![15, 30, 60].includes(minutes)) {
      skip(`${minutes}-minute intervals (market.* carries 15, 30 or 60)`);
      continue;
    }
    const value = finiteNumber(row.MW, `${where} MW`);
    const run = row.MARKET_RUN_ID;
    if (isLoad) {
      const basis = loadBasis[run];
      if (!basis) {
        skip(`MARKET_RUN_ID ${run} has no basis on market.fundamentals`);
        continue;
      }
      records.push(
        fundamental({
          area: row.TAC_AREA_NAME,
          kind: 'LOAD',
          basis,
          deliveryStart: start,
          intervalMinutes: minutes,
          valueMw: value,
          publishedAt: null,
          ingestedAt: opts.now,
          source: 'caiso',
        }),
      );
    } else {
      if (row.LMP_TYPE !== 'LMP') {
        skip(`LMP_TYPE ${row.LMP_TYPE} (only the full LMP is a price)`);
        continue;
      }
      records.push(
        price({
          market: 'CAISO',
          area: row.NODE,
          product: priceProducts[run] ?? 'UNKNOWN',
          deliveryStart: start,
          intervalMinutes: minutes,
          price: value,
          currency: 'USD',
          energyUnit: 'MWH',
          volumeMwh: null,
          publishedAt: null,
          ingestedAt: opts.now,
          source: 'caiso',
        }),
      );
    }
  }
}

/**
 * Parses a CAISO OASIS SingleZip response: a zip holding one CSV report (SLD_FCST load forecasts and
 * actuals → market.fundamentals; PRC_LMP prices → market.prices) or an OASISReport XML with an ERROR
 * (ERR_CODE 1000 "No data returned" gives status no-data; other codes are upstream errors).
 */
export function parseCaiso(p: Payload, opts: CaisoParseOptions): CaisoParseResult {
  refuseErrorStatus(p);
  checkContentType(p, ['zip', 'octet-stream', 'xml', 'csv']);
  const limits = opts.limits ?? defaultLimits;
  const records: NormalizedRecord[] = [];
  const skipped = new Map<string, number>();
  const entries = unzipSafe(p, limits);
  for (const e of entries) {
    const name = `${p.where}!${e.name}`;
    if (/\.xml$/i.test(e.name)) {
      const doc = parseXmlSafe({ body: e.data, where: name }, limits) as Record<
        string,
        Record<string, Record<string, Record<string, unknown>>>
      >;
      const err = doc.OASISReport?.MessagePayload?.RTO?.ERROR as Record<string, string> | undefined;
      if (!err)
        throw new OptiBidError(
          'OPTIBID_ERR_DECODE',
          `${name}: XML report without an ERROR element (only CSV reports are read)`,
        );
      const reason = `${err.ERR_CODE} ${err.ERR_DESC}`;
      if (String(err.ERR_CODE) === '1000') return { status: 'no-data', records: [], warnings: [], reason };
      throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `${name}: OASIS error ${reason}`, {
        retriable: String(err.ERR_CODE) === '1015',
      });
    }
    if (/\.csv$/i.test(e.name)) parseCsvReport(name, asText(e.data), opts, records, skipped);
    else
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${name}: unexpected file in the OASIS zip (expected .csv or .xml)`);
  }
  const warnings = [...skipped].map(([why, n]) => `${p.where}: ${n} row(s) skipped: ${why}`);
  return { status: 'ok', records, warnings };
}
