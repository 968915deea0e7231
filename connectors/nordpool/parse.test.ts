import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNordpool } from './parse.js';
import { readCassette } from '../common/recorded.js';
import type { MarketPrice } from '../common/records.js';

const dir = join(import.meta.dirname, 'fixtures');
const NOW = Date.parse('2026-01-01T00:00:00Z');
const fromCassette = (name: string) => {
  const ex = readCassette(join(dir, name))[0];
  return parseNordpool(
    { body: ex.body, status: ex.status, contentType: ex.headers['content-type'], where: name },
    { now: NOW },
  );
};

describe('Nord Pool Data Portal', () => {
  test('FI 15-minute day: 96 quarter-hour prices, as listed in the response', () => {
    const ex = readCassette(join(dir, 'single_area_15min.yaml'))[0];
    const res = parseNordpool({ body: ex.body, where: 'fi' }, { now: NOW });
    const raw = JSON.parse(ex.body).multiIndexEntries as { deliveryStart: string; entryPerArea: { FI: number } }[];
    const recs = res.records.map((r) => r.value as MarketPrice);
    expect(recs).toHaveLength(96);
    expect(res).toMatchObject({ status: 'ok', deliveryDate: '2025-05-07', version: 3, areaStates: { FI: 'Final' } });
    recs.forEach((r, i) => {
      expect(r.deliveryStart).toBe(Date.parse(raw[i].deliveryStart));
      expect(r.price).toBe(raw[i].entryPerArea.FI);
      expect(r).toMatchObject({
        market: 'NORDPOOL',
        area: 'FI',
        product: 'DAY_AHEAD',
        intervalMinutes: 15,
        currency: 'EUR',
        energyUnit: 'MWH',
        ingestedAt: NOW,
        source: 'nordpool',
      });
    });
    expect(recs[0].publishedAt).toBe(Date.parse('2025-05-06T11:22:09.220Z'));
  });

  test('SE1-SE4 hourly: one record per area and hour', () => {
    const res = fromCassette('multiple_area_hourly.yaml');
    const recs = res.records.map((r) => r.value as MarketPrice);
    expect(new Set(recs.map((r) => r.area))).toEqual(new Set(['SE1', 'SE2', 'SE3', 'SE4']));
    expect(recs.filter((r) => r.area === 'SE3')).toHaveLength(24);
    expect(recs.every((r) => r.intervalMinutes === 60)).toBe(true);
    expect(recs.find((r) => r.area === 'SE4' && r.deliveryStart === Date.parse('2025-05-06T22:00:00Z'))!.price).toBe(
      90.32,
    );
  });

  test('not yet published: version 0 and no entries', () => {
    expect(fromCassette('prices_not_available.yaml')).toMatchObject({
      status: 'not-published',
      records: [],
      version: 0,
    });
    expect(parseNordpool({ body: '', status: 204, where: 'x' }, { now: NOW }).status).toBe('not-published');
  });

  test('DayAheadPrices shape (multiAreaEntries)', () => {
    const body = readFileSync(join(dir, 'delivery_period.json'), 'utf8');
    const recs = parseNordpool({ body, where: 'dp' }, { now: NOW }).records.map((r) => r.value as MarketPrice);
    expect(recs).toHaveLength(24);
    expect(recs[0]).toMatchObject({ area: 'SE3', price: 21.54, deliveryStart: Date.parse('2024-11-04T23:00:00Z') });
  });

  test('malformed input is refused with what and where', () => {
    const ex = readCassette(join(dir, 'multiple_area_hourly.yaml'))[0];
    expect(() =>
      parseNordpool({ body: ex.body.replace('"SE1":22.34', '"SE1":"nan"'), where: 'np' }, { now: NOW }),
    ).toThrow(/np entry 1 SE1: "nan" is not a finite number/);
    expect(() =>
      parseNordpool(
        {
          body: ex.body.replace('"deliveryEnd":"2025-05-06T23:00:00Z"', '"deliveryEnd":"2025-05-06T22:05:00Z"'),
          where: 'np',
        },
        { now: NOW },
      ),
    ).toThrow(/entry 1: delivery interval of 5 minutes/);
    expect(() => parseNordpool({ body: '{"foo":1}', where: 'np' }, { now: NOW })).toThrow(
      /not a Nord Pool day-ahead response/,
    );
    expect(() =>
      parseNordpool({ body: '<html><title>Maintenance</title></html>', status: 200, where: 'np' }, { now: NOW }),
    ).toThrow(/HTML page with HTTP 200/);
    expect(() => parseNordpool({ body: '{}', contentType: 'text/csv', where: 'np' }, { now: NOW })).toThrow(
      /unexpected content type/,
    );
  });
});
