import avro from 'avsc';
import { generate, lintSchemas, readSchemaFiles, staleFiles } from './gen-types.mjs';
import { keyString, subjectSchemas, topicNames } from './index.js';

describe('generated schema types', () => {
  it('are up to date with schemas/avro (npm run build regenerates them)', () => {
    expect(staleFiles(generate())).toEqual([]);
  });

  it('cover a value and a key schema for every design topic', () => {
    const expected = [
      'market.prices',
      'market.fundamentals',
      'telemetry.readings',
      'forecasts.prices',
      'forecasts.load',
      'forecasts.renewables',
      'bids.signals',
      'alerts.events',
    ];
    expect([...topicNames].sort()).toEqual(expected.sort());
    for (const t of expected) {
      expect(subjectSchemas[`${t}-value`]).toBeDefined();
      expect(subjectSchemas[`${t}-key`]).toBeDefined();
    }
  });

  it('parse as Avro and follow the conventions (docs, enum defaults, timestamp-millis)', () => {
    const files = readSchemaFiles();
    for (const f of files) expect(() => avro.Type.forSchema(f.schema as avro.Schema)).not.toThrow();
    expect(lintSchemas(files)).toEqual([]);
  });

  it('lint catches a missing doc, an enum without default and a time that is not timestamp-millis', () => {
    const bad = {
      file: 'x-value.avsc',
      topic: 'x',
      part: 'value',
      subject: 'x-value',
      schema: {
        type: 'record',
        name: 'X',
        namespace: 'energy.optibid',
        doc: 'x',
        fields: [
          { name: 'a', type: 'int' },
          { name: 'kind', type: { type: 'enum', name: 'K', symbols: ['A'] }, doc: 'k' },
          { name: 'createdAt', type: 'long', doc: 'c' },
        ],
      },
    };
    const problems = lintSchemas([bad]);
    expect(problems.some((p: string) => p.includes('field a has no doc'))).toBe(true);
    expect(problems.some((p: string) => p.includes('enum K has no default'))).toBe(true);
    expect(problems.some((p: string) => p.includes('createdAt is a time'))).toBe(true);
  });

  it('market records carry deliveryStart and intervalMinutes', () => {
    for (const t of [
      'market.prices',
      'market.fundamentals',
      'forecasts.prices',
      'forecasts.load',
      'forecasts.renewables',
      'bids.signals',
    ]) {
      const names = (subjectSchemas[`${t}-value`] as { fields: { name: string }[] }).fields.map((f) => f.name);
      expect(names).toEqual(expect.arrayContaining(['deliveryStart', 'intervalMinutes']));
    }
  });

  it('keyString joins key fields in schema order, null as empty', () => {
    expect(keyString({ market: 'EPEX', area: 'BE', assetId: null })).toBe('EPEX|BE|');
  });
});
