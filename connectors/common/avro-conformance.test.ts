import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { subjectSchemas } from '@optibid/schemas';
import { connectorDecoders } from '../catalog.js';
import { readPayloadFile } from './recorded.js';
import { partitionKey, type NormalizedRecord } from './records.js';

const root = join(import.meta.dirname, '..');
const types = new Map<string, avro.Type>();
const typeOf = (subject: string): avro.Type => {
  if (!types.has(subject)) types.set(subject, avro.Type.forSchema(subjectSchemas[subject] as avro.Schema));
  return types.get(subject)!;
};

/** Every recorded fixture each connector's parser reads, with the config it needs. */
const cases: [string, string, Record<string, unknown>][] = [
  ['entsoe', 'entsoe/fixtures/BE_60M.xml', {}],
  ['entsoe', 'entsoe/fixtures/BE_15M_avg.xml', {}],
  ['entsoe', 'entsoe/fixtures/gl.load.singlepoint.xml', {}],
  ['entsoe', 'entsoe/fixtures/load61_b_day_ahead_total_load_forecast.yml', {}],
  ['entsoe', 'entsoe/fixtures/generation141_c_generation_forecast_day_ahead.yml', {}],
  ['nordpool', 'nordpool/fixtures/single_area_15min.yaml', {}],
  ['nordpool', 'nordpool/fixtures/multiple_area_hourly.yaml', {}],
  ['nordpool', 'nordpool/fixtures/delivery_period.json', {}],
  ['iex', 'iex/fixtures/IEXGetTradeData_DAMPriceVolume_18Oct.json', {}],
  ['caiso', 'caiso/fixtures/caiso_daily_load_sample1.zip', {}],
  ['http', 'nordpool/fixtures/single_area_15min.yaml', { feed: join(root, 'http/feeds/nordpool-dayahead.yaml') }],
];

describe('every record a parser makes from the real fixtures is valid Avro for its topic', () => {
  test.each(cases)('%s %s', async (name, file, config) => {
    const { records } = await connectorDecoders[name](
      readPayloadFile(join(root, file)),
      config,
      Date.parse('2026-01-01T00:00:00Z'),
    );
    expect(records.length).toBeGreaterThan(0);
    for (const rec of records as NormalizedRecord[]) {
      const value = typeOf(`${rec.topic}-value`);
      const errors: string[] = [];
      value.isValid(rec.value, { errorHook: (path) => errors.push(path.join('.')) });
      expect(errors).toEqual([]);
      // Field names and order are exactly the schema's.
      expect(Object.keys(rec.value)).toEqual(
        (subjectSchemas[`${rec.topic}-value`] as { fields: { name: string }[] }).fields.map((f) => f.name),
      );
      // The record survives an Avro round trip unchanged.
      expect(value.fromBuffer(value.toBuffer(rec.value))).toEqual(rec.value);
      expect(partitionKey(rec)).not.toBe('');
    }
  });

  test('MQTT decoders on the recorded Shelly status', async () => {
    const em = JSON.parse(readFileSync(join(root, 'mqtt/fixtures/pro_3em.json'), 'utf8')).status['em:0'];
    const { records } = await connectorDecoders.mqtt(
      { body: JSON.stringify(em), where: 'em.json' },
      { decoder: 'shelly', topic: 'd/status/em:0' },
      0,
    );
    const t = typeOf('telemetry.readings-value');
    expect(records.length).toBeGreaterThan(0);
    const names = (subjectSchemas['telemetry.readings-value'] as { fields: { name: string }[] }).fields.map(
      (f) => f.name,
    );
    for (const r of records) {
      expect(t.isValid(r.value)).toBe(true);
      expect(Object.keys(r.value)).toEqual(names);
    }
  });
});
