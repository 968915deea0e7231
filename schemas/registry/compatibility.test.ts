import { canRead, checkCompatibility, type CompatibilityLevel } from './compatibility.js';
import { parseSchema } from './avro-schema.js';

const rec = (fields: object[], extra: object = {}) =>
  JSON.stringify({ type: 'record', name: 'Price', namespace: 'energy.optibid', fields, ...extra });
const v1 = rec([
  { name: 'area', type: 'string' },
  { name: 'price', type: 'double' },
]);
const addedWithDefault = rec([
  { name: 'area', type: 'string' },
  { name: 'price', type: 'double' },
  { name: 'currency', type: 'string', default: 'EUR' },
]);
const addedNoDefault = rec([
  { name: 'area', type: 'string' },
  { name: 'price', type: 'double' },
  { name: 'currency', type: 'string' },
]);
const removedPrice = rec([{ name: 'area', type: 'string' }]);

describe('Avro schema resolution (reader can read writer)', () => {
  it('accepts identical schemas and new fields with defaults', () => {
    expect(canRead(v1, v1)).toEqual([]);
    expect(canRead(addedWithDefault, v1)).toEqual([]);
  });

  it('refuses a new field without a default and names it', () => {
    const problems = canRead(addedNoDefault, v1);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.kind).toBe('READER_FIELD_MISSING_DEFAULT_VALUE');
    expect(problems[0]!.location).toBe('Price.currency');
    expect(problems[0]!.path).toBe('/fields/2');
    expect(problems[0]!.reason).toMatch(/currency.*no default/);
  });

  it('applies numeric promotions one way only', () => {
    const asLong = rec([{ name: 'n', type: 'long' }]);
    const asInt = rec([{ name: 'n', type: 'int' }]);
    const asDouble = rec([{ name: 'n', type: 'double' }]);
    expect(canRead(asLong, asInt)).toEqual([]);
    expect(canRead(asDouble, asInt)).toEqual([]);
    const back = canRead(asInt, asLong);
    expect(back[0]!.kind).toBe('TYPE_MISMATCH');
    expect(back[0]!.reason).toContain('int in the reader but long in the writer');
  });

  it('reads string as bytes and bytes as string', () => {
    expect(canRead(rec([{ name: 'b', type: 'bytes' }]), rec([{ name: 'b', type: 'string' }]))).toEqual([]);
    expect(canRead(rec([{ name: 'b', type: 'string' }]), rec([{ name: 'b', type: 'bytes' }]))).toEqual([]);
  });

  it('enums: new writer symbols need a reader default', () => {
    const enumOf = (symbols: string[], dflt?: string) =>
      rec([{ name: 'side', type: { type: 'enum', name: 'Side', symbols, ...(dflt ? { default: dflt } : {}) } }]);
    expect(canRead(enumOf(['BUY', 'SELL']), enumOf(['BUY']))).toEqual([]);
    const missing = canRead(enumOf(['BUY']), enumOf(['BUY', 'SELL']));
    expect(missing[0]!.kind).toBe('MISSING_ENUM_SYMBOLS');
    expect(missing[0]!.reason).toContain('SELL');
    expect(canRead(enumOf(['UNKNOWN', 'BUY'], 'UNKNOWN'), enumOf(['UNKNOWN', 'BUY', 'SELL'], 'UNKNOWN'))).toEqual([]);
  });

  it('unions: a nullable reader reads the plain type; the plain type cannot read null', () => {
    const nullable = rec([{ name: 'v', type: ['null', 'double'], default: null }]);
    const plain = rec([{ name: 'v', type: 'double' }]);
    expect(canRead(nullable, plain)).toEqual([]);
    const p = canRead(plain, nullable);
    expect(p).toHaveLength(1);
    expect(p[0]!.reason).toContain('null');
  });

  it('unions: every writer branch must be readable', () => {
    const wide = rec([{ name: 'v', type: ['null', 'string', 'double'], default: null }]);
    const narrow = rec([{ name: 'v', type: ['null', 'string'], default: null }]);
    expect(canRead(wide, narrow)).toEqual([]);
    const p = canRead(narrow, wide);
    expect(p[0]!.kind).toBe('MISSING_UNION_BRANCH');
    expect(p[0]!.reason).toContain('double');
  });

  it('named types must keep their name unless an alias links them', () => {
    const renamed = JSON.stringify({
      type: 'record',
      name: 'Quote',
      namespace: 'energy.optibid',
      fields: [
        { name: 'area', type: 'string' },
        { name: 'price', type: 'double' },
      ],
    });
    expect(canRead(renamed, v1)[0]!.kind).toBe('NAME_MISMATCH');
    const aliased = JSON.stringify({
      type: 'record',
      name: 'Quote',
      aliases: ['Price'],
      namespace: 'energy.optibid',
      fields: [
        { name: 'area', type: 'string' },
        { name: 'price', type: 'double' },
      ],
    });
    expect(canRead(aliased, v1)).toEqual([]);
  });

  it('field aliases let a renamed field read the old one', () => {
    const renamed = rec([
      { name: 'area', type: 'string' },
      { name: 'value', type: 'double', aliases: ['price'] },
    ]);
    expect(canRead(renamed, v1)).toEqual([]);
  });

  it('fixed sizes must match; arrays and maps compare their items', () => {
    const fixed = (size: number) => rec([{ name: 'f', type: { type: 'fixed', name: 'F', size } }]);
    expect(canRead(fixed(4), fixed(8))[0]!.kind).toBe('FIXED_SIZE_MISMATCH');
    const arr = (items: string) => rec([{ name: 'a', type: { type: 'array', items } }]);
    expect(canRead(arr('long'), arr('int'))).toEqual([]);
    expect(canRead(arr('int'), arr('string'))[0]!.location).toBe('Price.a[]');
    const map = (values: string) => rec([{ name: 'm', type: { type: 'map', values } }]);
    expect(canRead(map('string'), map('long'))[0]!.kind).toBe('TYPE_MISMATCH');
  });

  it('handles recursive records', () => {
    const node = (extra: object[] = []) =>
      JSON.stringify({
        type: 'record',
        name: 'Node',
        fields: [{ name: 'next', type: ['null', 'Node'], default: null }, ...extra],
      });
    expect(canRead(node([{ name: 'x', type: 'int', default: 0 }]), node())).toEqual([]);
    expect(canRead(node([{ name: 'x', type: 'int' }]), node())[0]!.kind).toBe('READER_FIELD_MISSING_DEFAULT_VALUE');
  });
});

describe('compatibility levels', () => {
  const versions = [v1, addedWithDefault].map((s, i) => ({ version: i + 1, schema: parseSchema(s) }));
  const check = (level: CompatibilityLevel, candidate: string, existing = versions) =>
    checkCompatibility(level, parseSchema(candidate), existing);

  it('NONE accepts anything', () => {
    expect(check('NONE', JSON.stringify('string'))).toEqual([]);
  });

  it('BACKWARD: the new schema must read the latest; removing a field is fine', () => {
    expect(check('BACKWARD', removedPrice)).toEqual([]);
    const p = check(
      'BACKWARD',
      rec([
        { name: 'area', type: 'string' },
        { name: 'price', type: 'double' },
        { name: 'currency', type: 'string', default: 'EUR' },
        { name: 'unit', type: 'string' },
      ]),
    );
    expect(p).toHaveLength(1);
    expect(p[0]!.direction).toBe('backward');
    expect(p[0]!.version).toBe(2);
    expect(p[0]!.message).toMatch(/new schema cannot read data written with version 2: field unit/);
  });

  it('FORWARD: the latest must read the new schema; removing a field without default breaks it', () => {
    const p = check('FORWARD', removedPrice);
    expect(p.map((x) => x.location)).toEqual(['Price.price']);
    expect(p[0]!.message).toMatch(/consumers on version 2 cannot read data written with the new schema/);
    expect(
      check(
        'FORWARD',
        addedNoDefault.replace('"currency","type":"string"', '"currency","type":"string","default":"EUR"'),
      ),
    ).toEqual([]);
  });

  it('FULL needs both directions', () => {
    expect(check('FULL', removedPrice).length).toBeGreaterThan(0);
    expect(check('FULL', addedWithDefault)).toEqual([]);
  });

  it('transitive levels check every version, plain levels only the latest', () => {
    // v1 {area, price}; v2 {area, price, currency (required)}; a v3 equal to v2 reads v2 data but not v1 data.
    const needsCurrency = rec([
      { name: 'area', type: 'string' },
      { name: 'price', type: 'double' },
      { name: 'currency', type: 'string' },
    ]);
    const history = [
      { version: 1, schema: parseSchema(v1) },
      { version: 2, schema: parseSchema(needsCurrency) },
    ];
    expect(check('BACKWARD', needsCurrency, history)).toEqual([]);
    expect(check('BACKWARD_TRANSITIVE', needsCurrency, history).map((m) => m.version)).toEqual([1]);
    expect(check('FULL_TRANSITIVE', needsCurrency, history).map((m) => `${m.direction}${m.version}`)).toEqual([
      'backward1',
    ]);
    // Dropping price (and currency): every older reader needs them.
    const areaOnly = rec([{ name: 'area', type: 'string' }]);
    expect(check('FORWARD', areaOnly, history).map((m) => m.location)).toEqual(['Price.price', 'Price.currency']);
    expect(check('FORWARD_TRANSITIVE', areaOnly, history).map((m) => m.version)).toEqual([2, 2, 1]);
  });
});
