import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync, strToU8, strFromU8 } from 'fflate';
import { parseCaiso } from './parse.js';
import { csvObjects } from '../common/payload.js';
import type { MarketFundamental, MarketPrice } from '../common/records.js';

const dir = join(import.meta.dirname, 'fixtures');
const zip1 = new Uint8Array(readFileSync(join(dir, 'caiso_daily_load_sample1.zip')));
const zip2 = new Uint8Array(readFileSync(join(dir, 'caiso_daily_load_sample2.zip')));
const NOW = Date.parse('2026-01-01T00:00:00Z');
const csvText = strFromU8(Object.values(unzipSync(zip1))[0]);

describe('CAISO OASIS', () => {
  test('SLD_FCST zip: load forecasts and actuals per TAC area; 5-minute and 2-day-ahead rows skipped', () => {
    const res = parseCaiso({ body: zip1, contentType: 'application/x-zip-compressed', where: 'sld.zip' }, { now: NOW });
    const recs = res.records.map((r) => r.value as MarketFundamental);
    const rows = csvObjects(csvText, 'x').map((r) => r.row);
    const expected = rows.filter(
      (r) =>
        ['DAM', '7DA', 'ACTUAL'].includes(r.MARKET_RUN_ID) ||
        (r.MARKET_RUN_ID === 'RTM' && r.XML_DATA_ITEM === 'SYS_FCST_15MIN_MW'),
    );
    expect(recs).toHaveLength(expected.length);
    expect(res.warnings.join('\n')).toMatch(/10080 row\(s\) skipped: 5-minute intervals/);
    expect(res.warnings.join('\n')).toMatch(/816 row\(s\) skipped: MARKET_RUN_ID 2DA/);
    const dam = rows.find((r) => r.MARKET_RUN_ID === 'DAM' && r.TAC_AREA_NAME === 'CA ISO-TAC')!;
    const rec = recs.find(
      (r) =>
        r.area === 'CA ISO-TAC' &&
        r.basis === 'DAY_AHEAD_FORECAST' &&
        r.deliveryStart === Date.parse(dam.INTERVALSTARTTIME_GMT),
    )!;
    expect(rec).toEqual({
      area: 'CA ISO-TAC',
      kind: 'LOAD',
      basis: 'DAY_AHEAD_FORECAST',
      deliveryStart: Date.parse(dam.INTERVALSTARTTIME_GMT),
      intervalMinutes: 60,
      valueMw: Number(dam.MW),
      publishedAt: null,
      ingestedAt: NOW,
      source: 'caiso',
    });
    expect(recs.filter((r) => r.basis === 'INTRADAY_FORECAST').every((r) => r.intervalMinutes === 15)).toBe(true);
  });

  test('the OASIS error zip (ERR_CODE 1000) means no data; another code is an upstream error', () => {
    expect(parseCaiso({ body: zip2, where: 'err.zip' }, { now: NOW })).toMatchObject({
      status: 'no-data',
      reason: expect.stringMatching(/^1000 No data returned/),
    });
    const xml = strFromU8(Object.values(unzipSync(zip2))[0]).replace('<m:ERR_CODE>1000<', '<m:ERR_CODE>1002<');
    expect(() => parseCaiso({ body: zipSync({ 'r.xml': strToU8(xml) }), where: 'err.zip' }, { now: NOW })).toThrow(
      /OASIS error 1002/,
    );
  });

  test('PRC_LMP price CSV in the OASIS column layout', () => {
    const csv = [
      'INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,NODE_ID_XML,NODE_ID,NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,MW,GROUP',
      '2023-08-13T07:00:00-00:00,2023-08-13T08:00:00-00:00,2023-08-13,1,0,TH_SP15_GEN-APND,TH_SP15_GEN-APND,TH_SP15_GEN-APND,DAM,LMP,LMP_PRC,TH_SP15_GEN-APND,ALL_APNODES,0,48.12,1',
      '2023-08-13T07:00:00-00:00,2023-08-13T08:00:00-00:00,2023-08-13,1,0,TH_SP15_GEN-APND,TH_SP15_GEN-APND,TH_SP15_GEN-APND,DAM,MCC,LMP_CONG_PRC,TH_SP15_GEN-APND,ALL_APNODES,0,0.5,1',
    ].join('\n');
    const res = parseCaiso({ body: zipSync({ 'PRC_LMP.csv': strToU8(csv) }), where: 'lmp.zip' }, { now: NOW });
    expect(res.records.map((r) => r.value as MarketPrice)).toEqual([
      expect.objectContaining({
        market: 'CAISO',
        area: 'TH_SP15_GEN-APND',
        product: 'DAY_AHEAD',
        price: 48.12,
        currency: 'USD',
        intervalMinutes: 60,
        deliveryStart: Date.parse('2023-08-13T07:00:00Z'),
      }),
    ]);
  });

  test('malformed rows name file and line; HTML instead of a zip is refused', () => {
    const broken = csvText.split('\n').slice(0, 5);
    broken[3] = broken[3].replace(/,([\d.]+),(\w+),(\d+)$/, ',nan,$2,$3');
    expect(() =>
      parseCaiso({ body: zipSync({ 'x.csv': strToU8(broken.join('\n')) }), where: 'b.zip' }, { now: NOW }),
    ).toThrow(/b\.zip!x\.csv:4 MW: "nan" is not a finite number/);
    expect(() =>
      parseCaiso(
        { body: '<html><head><title>OASIS down</title></head></html>', status: 200, where: 'oasis' },
        { now: NOW },
      ),
    ).toThrow(/HTML page.*OASIS down/);
  });
});
