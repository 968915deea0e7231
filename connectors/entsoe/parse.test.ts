import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOptiBidError } from '@optibid/runtime';
import { parseEntsoe } from './parse.js';
import { readCassette } from '../common/recorded.js';
import type { MarketFundamental, MarketPrice } from '../common/records.js';

const dir = join(import.meta.dirname, 'fixtures');
const xml = (name: string): string => readFileSync(join(dir, name), 'utf8');
const cassette = (name: string) => readCassette(join(dir, name))[0];
const NOW = Date.parse('2026-01-01T00:00:00Z');
const prices = (body: string, where = 'test.xml'): MarketPrice[] =>
  parseEntsoe({ body, where }, { now: NOW }, { now: NOW }).records.map((r) => r.value as MarketPrice);
const funds = (body: string, where = 'test.xml'): MarketFundamental[] =>
  parseEntsoe({ body, where }, { now: NOW }, { now: NOW }).records.map((r) => r.value as MarketFundamental);

/** Points of the first Period as the XML lists them: independent of the parser under test. */
function rawPoints(body: string, tag: string): Map<number, number> {
  const out = new Map<number, number>();
  const period = /<Period>([\s\S]*?)<\/Period>/.exec(body)![1];
  for (const m of period.matchAll(
    new RegExp(`<position>(\\d+)</position>\\s*<${tag.replace('.', '\\.')}>([^<]+)<`, 'g'),
  ))
    out.set(Number(m[1]), Number(m[2]));
  return out;
}

const HOUR = 3_600_000;

describe('ENTSO-E A44 prices', () => {
  test('hourly A03 document: one record per hour with the published prices', () => {
    const body = xml('BE_60M.xml');
    const res = parseEntsoe({ body, where: 'BE_60M.xml' }, { now: NOW });
    expect(res.status).toBe('ok');
    expect(res.document).toMatchObject({ type: 'A44', revision: 1, createdAt: Date.parse('2024-10-07T14:34:54Z') });
    const recs = res.records.map((r) => r.value as MarketPrice);
    expect(recs).toHaveLength(24);
    const raw = rawPoints(body, 'price.amount');
    const start = Date.parse('2024-10-07T22:00Z');
    recs.forEach((r, i) => {
      expect(r).toEqual({
        market: 'ENTSOE',
        area: 'BE',
        product: 'DAY_AHEAD',
        deliveryStart: r.deliveryStart,
        intervalMinutes: 60,
        price: r.price,
        currency: 'EUR',
        energyUnit: 'MWH',
        volumeMwh: null,
        publishedAt: Date.parse('2024-10-07T14:34:54Z'),
        ingestedAt: NOW,
        source: 'entsoe',
      });
      expect(r.deliveryStart).toBe(start + i * HOUR);
      expect(r.price).toBe(raw.get(i + 1));
    });
    expect(res.records.every((r) => r.topic === 'market.prices')).toBe(true);
  });

  test('two Periods (PT15M then PT60M), points out of order and omitted positions repeating the previous value', () => {
    const res = parseEntsoe({ body: xml('BE_15M_avg.xml'), where: 'BE_15M_avg.xml' }, { now: NOW });
    const recs = res.records.map((r) => r.value as MarketPrice);
    const q = recs.filter((r) => r.intervalMinutes === 15);
    const h = recs.filter((r) => r.intervalMinutes === 60);
    // 22:00-03:00 at 15 minutes is 20 intervals; 03:00-05:00 at 60 minutes is 2.
    expect(q).toHaveLength(20);
    expect(h).toHaveLength(2);
    expect(q.map((r) => r.deliveryStart)).toEqual(
      Array.from({ length: 20 }, (_, i) => Date.parse('2024-10-05T22:00Z') + i * 900_000),
    );
    expect(q.slice(0, 5).map((r) => r.price)).toEqual([55.35, 40.32, 31.86, 28.71, 44.22]);
    expect(q.slice(5, 10).every((r) => r.price === 44.22)).toBe(true); // positions 6-10 omitted
    expect(q[10].price).toBe(28.37);
    expect(q.slice(11).every((r) => r.price === 28.37)).toBe(true); // 12-20 omitted up to the period end
    expect(h.map((r) => r.price)).toEqual([64.98, 64.98]); // position 2 omitted, repeats position 1
    expect(res.warnings.join('\n')).toMatch(/position 3 lies past the period end/);
  });

  test('recorded NL day-ahead exchange parses to 24 hourly prices', () => {
    const ex = cassette('market_121d_day_ahead_prices_NL.yml');
    const res = parseEntsoe(
      { body: ex.body, status: ex.status, contentType: ex.headers['content-type'], where: 'NL' },
      { now: NOW },
    );
    const recs = res.records.map((r) => r.value as MarketPrice);
    expect(recs).toHaveLength(24);
    expect(recs[0]).toMatchObject({
      area: 'NL',
      deliveryStart: Date.parse('2024-09-01T22:00Z'),
      price: rawPoints(ex.body, 'price.amount').get(1),
    });
    expect(recs[23].price).toBe(104);
  });

  test('a second TimeSeries at another resolution or classification position is its own product', () => {
    const base = xml('BE_60M.xml');
    const ts = /<TimeSeries>[\s\S]*<\/TimeSeries>/.exec(base)![0];
    const second = ts
      .replace(
        '<curveType>',
        '<classificationSequence_AttributeInstanceComponent.position>2</classificationSequence_AttributeInstanceComponent.position><curveType>',
      )
      .replace(/<price\.amount>([\d.]+)</g, (_, v) => `<price.amount>${Number(v) + 1}<`);
    const res = parseEntsoe({ body: base.replace(ts, ts + second), where: 'two-series.xml' }, { now: NOW });
    const sources = new Set(res.records.map((r) => (r.value as MarketPrice).source));
    expect([...sources].sort()).toEqual(['entsoe', 'entsoe:A44#2']);
    expect(res.records).toHaveLength(48);
  });

  test('DST days: 25 and 23 hourly intervals in UTC', () => {
    const base = xml('BE_60M.xml');
    const point = (pos: number, v: number): string =>
      `<Point><position>${pos}</position><price.amount>${v}</price.amount></Point>`;
    const long = base
      .replaceAll('2024-10-07T22:00Z', '2024-10-26T22:00Z')
      .replaceAll('2024-10-08T22:00Z', '2024-10-27T23:00Z')
      .replace('</Period>', `${point(25, 99.5)}</Period>`);
    const l = prices(long);
    expect(l).toHaveLength(25);
    expect(l[24]).toMatchObject({ deliveryStart: Date.parse('2024-10-27T22:00Z'), price: 99.5 });
    const short = base
      .replaceAll('2024-10-07T22:00Z', '2024-03-30T23:00Z')
      .replaceAll('2024-10-08T22:00Z', '2024-03-31T22:00Z')
      .replace(/<Point>\s*<position>24<\/position>[\s\S]*?<\/Point>/, '');
    const s = prices(short);
    expect(s).toHaveLength(23);
    expect(s[22].deliveryStart).toBe(Date.parse('2024-03-31T21:00Z'));
  });

  test('30-minute resolution', () => {
    const body = xml('BE_60M.xml')
      .replace('PT60M', 'PT30M')
      .replace(
        '2024-10-08T22:00Z</end>\n            </timeInterval>',
        '2024-10-08T10:00Z</end>\n            </timeInterval>',
      );
    const recs = prices(body);
    expect(recs.every((r) => r.intervalMinutes === 30)).toBe(true);
    expect(recs[1].deliveryStart - recs[0].deliveryStart).toBe(1_800_000);
  });
});

describe('ENTSO-E fundamentals', () => {
  test('A65 single point with curve A01: one realised load value', () => {
    const recs = funds(xml('gl.load.singlepoint.xml'));
    expect(recs).toEqual([
      expect.objectContaining({
        area: 'CZ',
        kind: 'LOAD',
        basis: 'ACTUAL',
        valueMw: 6288,
        intervalMinutes: 60,
        deliveryStart: Date.parse('2015-12-31T23:00Z'),
      }),
    ]);
  });

  test('A01 curve leaves a missing position as a gap', () => {
    const body = xml('gl.load.singlepoint.xml').replace(
      '</Point>',
      '</Point><Point><position>3</position><quantity>7000</quantity></Point>',
    );
    const recs = funds(body);
    expect(recs.map((r) => r.deliveryStart - recs[0].deliveryStart)).toEqual([0, 2 * HOUR]);
  });

  test('A65 day-ahead load forecast over three days', () => {
    const ex = cassette('load61_b_day_ahead_total_load_forecast.yml');
    const recs = funds(ex.body);
    expect(recs).toHaveLength(72);
    expect(recs.every((r) => r.kind === 'LOAD' && r.basis === 'DAY_AHEAD_FORECAST' && r.area === 'CZ')).toBe(true);
    expect(recs[0].valueMw).toBe(4933);
  });

  test('A75 actual generation per type at 15 minutes: a type with no kind (biomass) is skipped with a warning', () => {
    const ex = cassette('generation161_b_c_actual_generation_per_production_type.yml');
    const res = parseEntsoe({ body: ex.body, where: 'a75' }, { now: NOW });
    expect(res.records).toHaveLength(0);
    expect(res.warnings.join()).toMatch(/96 value\(s\) skipped: psrType B01/);
    const wind = funds(ex.body.replace('<psrType>B01<', '<psrType>B19<'));
    expect(wind).toHaveLength(96);
    expect(wind[0]).toMatchObject({
      kind: 'WIND_ONSHORE',
      basis: 'ACTUAL',
      intervalMinutes: 15,
      valueMw: 3903,
      area: 'DE',
    });
  });

  test('A75 hydro production types add up to one HYDRO value per interval', () => {
    const ex = cassette('generation161_b_c_actual_generation_per_production_type.yml').body;
    const ts = /<TimeSeries>[\s\S]*<\/TimeSeries>/.exec(ex)![0];
    const body = ex.replace(
      ts,
      ts.replace('<psrType>B01<', '<psrType>B11<') + ts.replace('<psrType>B01<', '<psrType>B12<'),
    );
    const recs = funds(body);
    expect(recs).toHaveLength(96);
    expect(recs[0]).toMatchObject({ kind: 'HYDRO', valueMw: 2 * 3903 });
  });

  test('A71 generation forecast', () => {
    const recs = funds(cassette('generation141_c_generation_forecast_day_ahead.yml').body);
    expect(recs).toHaveLength(24);
    expect(recs[0]).toMatchObject({ kind: 'GENERATION', basis: 'DAY_AHEAD_FORECAST', valueMw: 5929.1925, area: 'BE' });
  });

  test('A69 wind and solar forecast maps psrType to the quantity', () => {
    const a75 = cassette('generation161_b_c_actual_generation_per_production_type.yml').body;
    const a69 = a75
      .replace('<type>A75</type>', '<type>A69</type>')
      .replace('<process.processType>A16<', '<process.processType>A01<')
      .replace('<psrType>B01<', '<psrType>B16<');
    const recs = funds(a69);
    expect(recs).toHaveLength(96);
    expect(recs.every((r) => r.kind === 'SOLAR' && r.basis === 'DAY_AHEAD_FORECAST')).toBe(true);
  });
});

describe('ENTSO-E acknowledgements and errors', () => {
  test('Acknowledgement "No matching data" means no data, even with HTTP 200', () => {
    expect(
      parseEntsoe({ body: xml('acknowledgement.invalidrequest.xml'), where: 'ack.xml' }, { now: NOW }),
    ).toMatchObject({ status: 'no-data', records: [] });
    const ex = cassette('market_121d_intraday_prices_DE_LU.yml');
    expect(ex.status).toBe(200);
    const res = parseEntsoe(
      { body: ex.body, status: ex.status, contentType: ex.headers['content-type'], where: 'DE_LU' },
      { now: NOW },
    );
    expect(res.status).toBe('no-data');
    expect(res.reason).toMatch(/ENERGY_PRICES/);
  });

  test('another Acknowledgement reason is an upstream error quoting it', () => {
    const body = xml('acknowledgement.invalidrequest.xml').replace(
      'No matching data found',
      'The amount of requested data exceeds allowed limit',
    );
    expect(() => parseEntsoe({ body, where: 'ack.xml' }, { now: NOW })).toThrow(/exceeds allowed limit/);
  });

  test('503 with an empty body is a retriable upstream error; 400 is not retriable', () => {
    const e503 = cassette('market_111b_flow_based_allocations_REGION1V.yml');
    let err: unknown;
    try {
      parseEntsoe({ body: e503.body, status: e503.status, where: 'region' }, { now: NOW });
    } catch (e) {
      err = e;
    }
    expect(isOptiBidError(err, 'OPTIBID_ERR_UPSTREAM') && err.retriable).toBe(true);
    expect(String(err)).toMatch(/HTTP 503: empty body/);
    const e400 = cassette('market_111c_continuous_allocations_BE_NL.yml');
    try {
      parseEntsoe({ body: e400.body, status: e400.status, where: 'be-nl' }, { now: NOW });
    } catch (e) {
      err = e;
    }
    expect(isOptiBidError(err, 'OPTIBID_ERR_UPSTREAM') && !err.retriable).toBe(true);
  });
});
