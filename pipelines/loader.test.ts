import { formatIssue, loadPipelineText, substituteEnv } from './loader.js';

const check = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
  const r = loadPipelineText(yaml, 'p.yaml', { env });
  return r.ok ? [] : r.issues.map(formatIssue);
};

const valid = `name: t
processors:
  - name: bars
    use: rollup
    inputs: market.prices
    outputs: forecasts.prices
    config: { interval: 1h, field: price }
`;

describe('pipeline validation', () => {
  it('accepts a valid file and builds the spec', () => {
    const r = loadPipelineText(valid, 'p.yaml', { env: {} });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pipeline.spec.processors[0]).toMatchObject({
      name: 'bars',
      inputs: ['market.prices'],
      outputs: ['forecasts.prices'],
    });
    expect([...r.pipeline.spec.topics.keys()].sort()).toEqual(['dlq.t', 'forecasts.prices', 'market.prices']);
  });

  it('reports unknown keys at the top level and inside entries, with line and column of the key', () => {
    expect(check(`${valid}colour: blue\n`)).toEqual(['p.yaml:8:1 unknown key "colour" in top level']);
    expect(check(valid.replace('    use: rollup', '    use: rollup\n    partitons: 3'))).toEqual([
      'p.yaml:5:5 unknown key "partitons" in processors.0',
    ]);
  });

  it('reports an unknown component, listing the known ones', () => {
    expect(check(valid.replace('use: rollup', 'use: rolup'))).toEqual([
      expect.stringMatching(/^p\.yaml:4:10 unknown processor component "rolup" \(known: .*rollup/),
    ]);
  });

  it('checks component config against its TypeBox schema: wrong type and unknown key', () => {
    expect(check(valid.replace('interval: 1h', 'interval: true'))).toEqual([
      expect.stringMatching(/^p\.yaml:7:25 processors\.0\.config\.interval: /),
    ]);
    expect(check(valid.replace('field: price', 'field: price, size: 3'))).toEqual([
      'p.yaml:7:43 unknown key "size" in processors.0.config',
    ]);
    expect(check(valid.replace('config: { interval: 1h, field: price }', 'config: { interval: 1h }'))).toEqual([
      'p.yaml:7:5 missing required key "field" in processors.0.config',
    ]);
  });

  it('requires a schema for every topic', () => {
    expect(check(valid.replace('outputs: forecasts.prices', 'outputs: prices.hourly'))).toEqual([
      'p.yaml:6:14 topic "prices.hourly" has no schema: add schemas/avro/prices.hourly-value.avsc or topics.prices.hourly.schema',
    ]);
    expect(check(`${valid}topics:\n  forecasts.prices:\n    schema: nowhere.avsc\n`)).toEqual([
      'p.yaml:10:13 schema file nowhere.avsc of topic "forecasts.prices" does not exist',
    ]);
  });

  it('reports a cycle between processors', () => {
    const cyclic = `name: c
processors:
  - { name: a, use: rollup, inputs: market.prices, outputs: forecasts.prices, config: { interval: 1h, field: price } }
  - { name: b, use: rollup, inputs: forecasts.prices, outputs: market.prices, config: { interval: 1h, field: price } }
`;
    expect(check(cyclic)).toEqual([
      expect.stringMatching(/^p\.yaml:3:\d+ cycle: a -> b -> a \(through topic "market\.prices"\)$/),
    ]);
  });

  it('reports a duplicate component name and a component of the wrong kind', () => {
    const dup = `${valid}  - { name: bars, use: rollup, inputs: market.prices, outputs: forecasts.prices, config: { interval: 1d, field: price } }\nsinks:\n  - { name: s, use: rollup, inputs: forecasts.prices }\n`;
    expect(check(dup)).toEqual([
      expect.stringMatching(/^p\.yaml:8:\d+ component name "bars" is already used by a processor$/),
      expect.stringMatching(/^p\.yaml:10:\d+ "rollup" is a processor, not a sink/),
    ]);
  });

  it('substitutes ${ENV} with defaults and reports unset variables where they are used', () => {
    expect(substituteEnv('a ${X} b ${Y:-dflt} $${Z}', { X: '1' })).toEqual({ value: 'a 1 b dflt ${Z}', missing: [] });
    const withEnv = valid.replace('field: price', 'field: "${FIELD}"');
    expect(check(withEnv, { FIELD: 'price' })).toEqual([]);
    expect(check(withEnv)).toEqual([
      'p.yaml:7:36 environment variable FIELD is not set (use ${FIELD:-default} for a default)',
    ]);
  });

  it('a lone unquoted ${VAR} takes the type YAML would give the text; a quoted one stays a string', () => {
    const yaml =
      valid.replace('field: price }', 'field: price }\n    description: "${DESC:-x}"') +
      'settings:\n  batchSize: ${BATCH:-250}\n';
    const r = loadPipelineText(yaml, 'p.yaml', { env: {} });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.pipeline.spec.settings.batchSize).toBe(250);
    expect(check(`${valid}settings:\n  batchSize: "\${BATCH:-250}"\n`)).toEqual([
      expect.stringMatching(/^p\.yaml:9:14 settings\.batchSize: expected integer/),
    ]);
  });

  it('connectorEnv defer: an unset variable in source/sink config is a note (value checked at run time); processors still need theirs', () => {
    const withSink = `${valid}sinks:
  - name: hook
    use: webhook
    inputs: forecasts.prices
    config: { url: "\${HOOK_URL}", secret: "\${HOOK_SECRET}", maxAttempts: 3 }
`;
    expect(check(withSink)).toEqual([
      'p.yaml:12:20 environment variable HOOK_URL is not set (use ${HOOK_URL:-default} for a default)',
      'p.yaml:12:43 environment variable HOOK_SECRET is not set (use ${HOOK_SECRET:-default} for a default)',
    ]);
    const deferred = loadPipelineText(withSink, 'p.yaml', { env: {}, connectorEnv: 'defer' });
    expect(deferred.ok).toBe(true);
    if (!deferred.ok) return;
    expect(deferred.pipeline.notes.map(formatIssue)).toEqual([
      'p.yaml:12:20 environment variable HOOK_URL is not set: `optibid run` will need it',
      'p.yaml:12:43 environment variable HOOK_SECRET is not set: `optibid run` will need it',
    ]);
    expect(deferred.pipeline.spec.sinks[0]!.config).toMatchObject({ url: '${HOOK_URL}', secret: '${HOOK_SECRET}' });
    // Other config errors of the same sink are still reported, and so is a processor's unset variable.
    const bad = withSink.replace('maxAttempts: 3', 'maxAttempts: many').replace('field: price', 'field: "${FIELD}"');
    const r = loadPipelineText(bad, 'p.yaml', { env: {}, connectorEnv: 'defer' });
    expect(r.ok ? [] : r.issues.map(formatIssue)).toEqual([
      'p.yaml:7:36 environment variable FIELD is not set (use ${FIELD:-default} for a default)',
      expect.stringMatching(/^p\.yaml:12:\d+ sinks\.0\.config\.maxAttempts: expected integer, got "many"$/),
    ]);
  });

  it('names every allowed value of an enum, and a processor with a config error still consumes its topics', () => {
    const forecast = `name: t
processors:
  - name: fc
    use: price-forecast
    inputs: market.prices
    outputs: forecasts.prices
    config: { market: NORDPOOL, area: SYS, holidays: Nordic }
tests:
  - name: x
    input: { market.prices: [] }
    expect: { forecasts.prices: [] }
`;
    expect(check(forecast)).toEqual([
      'p.yaml:7:54 processors.0.config.holidays: expected one of "US", "NERC", "NORDIC", "BE", "DE", "FR", "PJM", "CAISO", "ERCOT", "NP", "NO", got "Nordic"',
    ]);
    expect(check(forecast.replace('holidays: Nordic', 'holidays: NORDIC'))).toEqual([]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(check('name: [unclosed\n')).toEqual([expect.stringMatching(/^p\.yaml:\d+:\d+ /)]);
  });

  it('checks test topics', () => {
    const withTests = `${valid}tests:\n  - name: x\n    input: { forecasts.prices: [] }\n    expect: { nowhere: [] }\n`;
    expect(check(withTests)).toEqual([
      'p.yaml:10:14 test input topic "forecasts.prices" is not an input of any processor',
      'p.yaml:11:15 test expects records on "nowhere", which this pipeline does not use',
    ]);
  });
});
