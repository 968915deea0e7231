import { OptiBidError } from '@optibid/runtime';
import {
  parseXmlSafe,
  finiteNumber,
  unzipSafe,
  checkContentType,
  asText,
  type Payload,
  type PayloadLimits,
  defaultLimits,
} from '../common/payload.js';
import { refuseErrorStatus } from '../common/status.js';
import { isoDurationMinutes, parseInstant, MINUTE_MS } from '../common/time.js';
import type { FundamentalBasis, FundamentalKind } from '@optibid/schemas';
import {
  fundamental,
  price,
  type MarketFundamental,
  type NormalizedRecord,
  type ParseOptions,
} from '../common/records.js';
import { contractProducts, processBasis, psrKinds, zoneName } from './codes.js';

/** What parsing one ENTSO-E response gave. */
export interface EntsoeParseResult {
  /** ok: records were found; no-data: an Acknowledgement saying nothing matched. */
  status: 'ok' | 'no-data';
  records: NormalizedRecord[];
  document: { id: string; type: string; revision: number | null; createdAt: number | null } | null;
  /** Things skipped on purpose (points past a period's end, positions before the first point). */
  warnings: string[];
  /** Reason text of an Acknowledgement document. */
  reason?: string;
}

type Node = Record<string, unknown>;

function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === 'string') return node;
  if (typeof node === 'object' && '#text' in (node as Node)) return String((node as Node)['#text']);
  return undefined;
}

function required(node: Node, key: string, where: string): string {
  const v = text(node[key]);
  if (v === undefined || v === '') throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: missing <${key}>`);
  return v;
}

function arr(v: unknown): Node[] {
  return v === undefined ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node];
}

/** One value per delivery interval of a Period, with A01/A03 curve semantics applied. */
export interface IntervalValue {
  start: number;
  minutes: number;
  value: number;
}

/**
 * Expands one <Period> into interval values. Points may come in any order. Curve A01 (fixed blocks):
 * a missing position is a gap. Curve A03 (variable blocks): an omitted position repeats the previous
 * value until the next point or the end of the period. Points past the period's end are dropped with a warning.
 */
export function expandPeriod(
  period: Node,
  curveType: string,
  valueTag: string,
  where: string,
  warnings: string[],
): IntervalValue[] {
  const ti = period.timeInterval as Node | undefined;
  if (!ti) throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: Period without <timeInterval>`);
  const start = parseInstant(text(ti.start), `${where} timeInterval.start`);
  const end = parseInstant(text(ti.end), `${where} timeInterval.end`);
  if (end <= start) throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: timeInterval ends before it starts`);
  const minutes = isoDurationMinutes(required(period, 'resolution', where));
  const slots = Math.round((end - start) / (minutes * MINUTE_MS));
  if (slots * minutes * MINUTE_MS !== end - start) {
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `${where}: timeInterval is not a whole number of ${minutes}-minute intervals`,
    );
  }
  const byPosition = new Map<number, number>();
  for (const point of arr(period.Point)) {
    const posText = text(point.position);
    const pos = Number(posText);
    if (!Number.isInteger(pos) || pos < 1)
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: Point position "${posText}" is not a positive integer`);
    const value = finiteNumber(text(point[valueTag]), `${where} Point ${pos} <${valueTag}>`);
    if (pos > slots) {
      warnings.push(`${where}: Point position ${pos} lies past the period end (${slots} intervals); dropped`);
      continue;
    }
    if (byPosition.has(pos))
      throw new OptiBidError('OPTIBID_ERR_DECODE', `${where}: Point position ${pos} appears twice`);
    byPosition.set(pos, value);
  }
  const out: IntervalValue[] = [];
  if (curveType === 'A03') {
    let current: number | undefined;
    let skipped = 0;
    for (let pos = 1; pos <= slots; pos++) {
      current = byPosition.get(pos) ?? current;
      if (current === undefined) {
        skipped++;
        continue;
      }
      out.push({ start: start + (pos - 1) * minutes * MINUTE_MS, minutes, value: current });
    }
    if (skipped) warnings.push(`${where}: ${skipped} position(s) before the first Point have no value; skipped`);
  } else if (curveType === 'A01') {
    for (const pos of [...byPosition.keys()].sort((a, b) => a - b)) {
      out.push({ start: start + (pos - 1) * minutes * MINUTE_MS, minutes, value: byPosition.get(pos)! });
    }
  } else {
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `${where}: unsupported curveType "${curveType}" (A01 and A03 are supported)`,
    );
  }
  return out;
}

function documentRoot(parsed: Node, where: string): [string, Node] {
  const names = Object.keys(parsed).filter((k) => k !== '?xml');
  if (names.length !== 1 || typeof parsed[names[0]] !== 'object') {
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `${where}: expected one root element, found ${names.join(', ') || 'none'}`,
    );
  }
  return [names[0], parsed[names[0]] as Node];
}

const noDataPattern = /no matching data/i;

/**
 * Parses an ENTSO-E Transparency Platform response (A44 prices; A65, A69, A71, A75 fundamentals; or
 * an Acknowledgement). An Acknowledgement saying "No matching data" gives status `no-data` even with
 * HTTP 200; any other Acknowledgement is an upstream error carrying its reason.
 */
/** Options of the ENTSO-E parser. */
export interface EntsoeParseOptions extends ParseOptions {
  /** Value of `market` on price records (default ENTSOE: prices as the Transparency Platform publishes them). */
  market?: string;
  limits?: PayloadLimits;
}

export function parseEntsoe(p: Payload, opts: EntsoeParseOptions): EntsoeParseResult {
  const limits = opts.limits ?? defaultLimits;
  checkContentType(p, ['xml', 'zip', 'octet-stream']);
  const bytes = typeof p.body === 'string' ? null : p.body;
  if (bytes && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    // Some document types (and large requests) come as a zip of XML documents.
    const parts = unzipSafe(p, limits).map((e) => parseEntsoe({ body: e.data, where: `${p.where}!${e.name}` }, opts));
    const ok = parts.filter((r) => r.status === 'ok');
    return {
      status: ok.length ? 'ok' : 'no-data',
      records: ok.flatMap((r) => r.records),
      document: ok[0]?.document ?? null,
      warnings: parts.flatMap((r) => r.warnings),
    };
  }
  if (p.status !== undefined && p.status >= 400) {
    // A 400 usually carries an Acknowledgement naming the problem; quote it.
    const reason = /<Reason>[\s\S]*?<text>([^<]*)<\/text>/.exec(asText(p.body))?.[1];
    refuseErrorStatus(p, reason ? `ENTSO-E refused the request: ${reason}` : undefined);
  }
  const [rootName, root] = documentRoot(parseXmlSafe(p, limits), p.where);
  const warnings: string[] = [];
  if (rootName === 'Acknowledgement_MarketDocument') {
    const reasons = arr(root.Reason).map((r) => `${text(r.code) ?? '?'} ${text(r.text) ?? ''}`.trim());
    const reason = reasons.join('; ') || 'no reason given';
    if (noDataPattern.test(reason)) {
      return { status: 'no-data', records: [], document: null, warnings, reason };
    }
    throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `${p.where}: ENTSO-E refused the request: ${reason}`, {
      context: { file: p.where },
    });
  }
  if (rootName !== 'Publication_MarketDocument' && rootName !== 'GL_MarketDocument') {
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${p.where}: unsupported ENTSO-E document <${rootName}>`);
  }
  const type = required(root, 'type', p.where);
  const revisionText = text(root.revisionNumber);
  const createdText = text(root.createdDateTime);
  const document = {
    id: required(root, 'mRID', p.where),
    type,
    revision: revisionText ? Number(revisionText) : null,
    createdAt: createdText ? parseInstant(createdText, `${p.where} createdDateTime`) : null,
  };
  const records: NormalizedRecord[] = [];
  const fundamentals = new Map<string, MarketFundamental>();
  const skipped = new Map<string, number>();
  const skip = (why: string, n: number): void => {
    skipped.set(why, (skipped.get(why) ?? 0) + n);
  };
  const series = arr(root.TimeSeries);
  series.forEach((ts, i) => {
    const where = `${p.where} TimeSeries ${text(ts.mRID) ?? i + 1}`;
    const curveType = text(ts.curveType) ?? 'A01';
    arr(ts.Period).forEach((period, j) => {
      const pwhere = `${where} Period ${j + 1}`;
      if (type === 'A44') {
        const values = expandPeriod(period, curveType, 'price.amount', pwhere, warnings);
        const area = zoneName(text(ts['in_Domain.mRID']) ?? required(ts, 'out_Domain.mRID', where));
        const contract = text(ts['contract_MarketAgreement.type']) ?? 'A01';
        // A second classification position is a distinct product series: its source says so.
        const position = text(ts['classificationSequence_AttributeInstanceComponent.position']);
        for (const v of values) {
          records.push(
            price({
              market: opts.market ?? 'ENTSOE',
              area,
              product: contractProducts[contract] ?? 'UNKNOWN',
              deliveryStart: v.start,
              intervalMinutes: v.minutes,
              price: v.value,
              currency: text(ts['currency_Unit.name']) ?? 'EUR',
              energyUnit: 'MWH',
              volumeMwh: null,
              publishedAt: document.createdAt,
              ingestedAt: opts.now,
              source: position && position !== '1' ? `entsoe:${type}#${position}` : 'entsoe',
            }),
          );
        }
        return;
      }
      const values = expandPeriod(period, curveType, 'quantity', pwhere, warnings);
      const processType = text(root['process.processType']) ?? '';
      const basis: FundamentalBasis | undefined = type === 'A75' ? 'ACTUAL' : processBasis[processType];
      if (!basis) return skip(`processType ${processType} has no basis on market.fundamentals`, values.length);
      const inArea = text(ts['inBiddingZone_Domain.mRID']);
      const outArea = text(ts['outBiddingZone_Domain.mRID']);
      const eic = inArea ?? outArea;
      if (!eic)
        throw new OptiBidError(
          'OPTIBID_ERR_DECODE',
          `${where}: no bidding zone (inBiddingZone_Domain or outBiddingZone_Domain)`,
        );
      const psr = text((ts.MktPSRType as Node | undefined)?.psrType);
      let kind: FundamentalKind | undefined;
      if (type === 'A65') kind = 'LOAD';
      else if (type !== 'A65' && !inArea && outArea)
        return skip('consumption series (outBiddingZone only)', values.length);
      else if (psr) kind = psrKinds[psr];
      else kind = 'GENERATION';
      if (!kind) return skip(`psrType ${psr} has no kind on market.fundamentals`, values.length);
      for (const v of values) {
        const value: MarketFundamental = {
          area: zoneName(eic),
          kind,
          basis,
          deliveryStart: v.start,
          intervalMinutes: v.minutes,
          valueMw: v.value,
          publishedAt: document.createdAt,
          ingestedAt: opts.now,
          source: 'entsoe',
        };
        // Several production types of one kind (run-of-river, reservoir, pumped hydro) add up.
        const id = `${value.area}|${kind}|${basis}|${v.minutes}|${v.start}`;
        const prev = fundamentals.get(id);
        if (prev) prev.valueMw += v.value;
        else fundamentals.set(id, value);
      }
    });
  });
  for (const value of fundamentals.values()) records.push(fundamental(value));
  for (const [why, n] of skipped) warnings.push(`${p.where}: ${n} value(s) skipped: ${why}`);
  return { status: 'ok', records, document, warnings };
}
