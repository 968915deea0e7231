import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIex, blockStart } from './parse.js';
import type { MarketPrice } from '../common/records.js';

const body = readFileSync(join(import.meta.dirname, 'fixtures/IEXGetTradeData_DAMPriceVolume_18Oct.json'), 'utf8');
const raw = JSON.parse(body);
const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('IEX India day-ahead', () => {
  test('two delivery days of 96 IST blocks, All-India and 13 areas', () => {
    const res = parseIex({ body, where: 'iex.json' }, { now: NOW });
    const recs = res.records.map((r) => r.value as MarketPrice);
    expect(res.blocks).toEqual({ '2022-10-18': 96, '2022-10-19': 96 });
    const all = recs.filter((r) => r.area === 'ALL-INDIA');
    expect(all).toHaveLength(192);
    expect(recs).toHaveLength(192 * 14);
    // Block 1 of 18 Oct IST starts at 17 Oct 18:30 UTC.
    expect(all[0]).toEqual({
      market: 'IEX',
      area: 'ALL-INDIA',
      product: 'DAY_AHEAD',
      deliveryStart: Date.parse('2022-10-17T18:30:00Z'),
      intervalMinutes: 15,
      price: raw.Delivery_Date_Details[0].Token_Wise[0].All_India_DAM_GDAM_RTM.Clearing_Price,
      currency: 'INR',
      energyUnit: 'MWH',
      volumeMwh: raw.Delivery_Date_Details[0].Token_Wise[0].All_India_DAM_GDAM_RTM.Cleared_Volume / 4,
      publishedAt: null,
      ingestedAt: NOW,
      source: 'iex',
    });
    expect(all[95].deliveryStart).toBe(Date.parse('2022-10-18T18:15:00Z'));
    expect(all[96].deliveryStart).toBe(Date.parse('2022-10-18T18:30:00Z'));
    const w2 = recs.find((r) => r.area === 'W2' && r.deliveryStart === all[50].deliveryStart)!;
    expect(w2.price).toBe(
      raw.Delivery_Date_Details[0].Token_Wise[50].Area_Details.find((a: { Area_code: string }) => a.Area_code === 'W2')
        .Area_Codes.Area_Price,
    );
  });

  test('a partial day (real-time market during the day) gives only the blocks cleared so far', () => {
    const partial = structuredClone(raw);
    partial.Delivery_Date_Details = [partial.Delivery_Date_Details[0]];
    partial.Delivery_Date_Details[0].Token_Wise = partial.Delivery_Date_Details[0].Token_Wise.slice(0, 40);
    partial.Delivery_Date_Details[0].Token_Wise[39].All_India_DAM_GDAM_RTM.Clearing_Price = null;
    const res = parseIex({ body: JSON.stringify(partial), where: 'rtm' }, { now: NOW, segment: 'RTM', areas: false });
    expect(res.blocks).toEqual({ '2022-10-18': 39 });
    expect(res.records.every((r) => (r.value as MarketPrice).product === 'REAL_TIME')).toBe(true);
    expect(res.warnings).toEqual([expect.stringMatching(/Token_NO 40: no clearing price yet/)]);
  });

  test('bad blocks and values are refused naming the date and block', () => {
    const bad = structuredClone(raw);
    bad.Delivery_Date_Details[1].Token_Wise[3].Token_NO = 97;
    expect(() => parseIex({ body: JSON.stringify(bad), where: 'iex' }, { now: NOW })).toThrow(
      /Delivery_Date_Details\[1\] \(19\/10\/2022\): Token_NO 97 is not a block 1-96/,
    );
    const nan = structuredClone(raw);
    nan.Delivery_Date_Details[0].Token_Wise[2].All_India_DAM_GDAM_RTM.Clearing_Price = 'nan';
    expect(() => parseIex({ body: JSON.stringify(nan), where: 'iex' }, { now: NOW })).toThrow(
      /Token_NO 3 Clearing_Price: "nan" is not a finite number/,
    );
    expect(() => parseIex({ body: '{"Status":false,"Message":"Invalid token"}', where: 'iex' }, { now: NOW })).toThrow(
      /Status false: Invalid token/,
    );
  });

  test('block arithmetic in IST', () => {
    expect(blockStart('01/01/2024', 1)).toBe(Date.parse('2023-12-31T18:30:00Z'));
    expect(blockStart('01/01/2024', 96)).toBe(Date.parse('2024-01-01T18:15:00Z'));
  });
});
