import { Type } from '@sinclair/typebox';
import { ComponentRegistry, defineProcessor } from '@optibid/runtime';
import { builtinDefinitions } from './builtins.js';
import { formatIssue, loadPipelineText } from './loader.js';
import { runPipelineTests } from './test-runner.js';

// A processor that reports the virtual clock: each record is echoed with `seenAt` = clock.now(), and its
// timer (every minute of clock time) emits a `tick` record, so tests can see when time moved.
const clockProbe = defineProcessor({
  name: 'clock-probe',
  status: 'experimental',
  summary: 'test helper',
  config: Type.Object({}),
  create: () => ({
    timerIntervalMs: 60_000,
    process(r, ctx) {
      ctx.emit({ value: { ...(r.value as object), seenAt: ctx.clock.now() } });
    },
    onTimer(now, ctx) {
      ctx.emit({ key: 'tick', value: { tick: now }, timestamp: now });
    },
  }),
});
const registry = new ComponentRegistry([...builtinDefinitions, clockProbe]);

const header = `name: t
processors:
  - { name: probe, use: clock-probe, inputs: market.prices, outputs: forecasts.prices }
tests:
`;

async function outcomes(tests: string) {
  const r = loadPipelineText(header + tests, 't.yaml', { env: {}, registry });
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
  return runPipelineTests(r.pipeline);
}

describe('pipeline tests: the virtual clock', () => {
  it('without `at` every record arrives at clock.start (default 0)', async () => {
    const [a, b] = await outcomes(`  - name: default clock
    input: { market.prices: [ { key: k, timestamp: 5, value: { n: 1 } } ] }
    expect: { forecasts.prices: [ { key: k, value: { n: 1, seenAt: 0 } } ] }
  - name: a start time
    clock: { start: 2026-03-29T10:00:00Z }
    input: { market.prices: [ { key: k, timestamp: 5, value: { n: 1 } } ] }
    expect: { forecasts.prices: [ { key: k, fields: { seenAt: 1774778400000 } } ] }
`);
    expect([a!.failures, b!.failures]).toEqual([[], []]);
  });

  it('records arrive in `at` order, the clock moves to each arrival time, timers run there and at clock.end', async () => {
    const [o] = await outcomes(`  - name: arrivals
    clock: { start: 2026-03-29T10:00:00Z, end: 2026-03-29T10:03:30Z }
    input:
      market.prices:
        - { key: k, at: 2026-03-29T10:02:00Z, timestamp: 2, value: { n: 2 } }
        - { key: k, at: 2026-03-29T10:00:30Z, timestamp: 1, value: { n: 1 } }
    expect:
      forecasts.prices:
        - { key: k, fields: { n: 1, seenAt: 1774778430000 } }
        - { key: tick, value: { tick: 1774778520000 } }
        - { key: k, fields: { n: 2, seenAt: 1774778520000 } }
        - { key: tick, fields: { tick: 1774778610000 } }
`);
    expect(o!.failures).toEqual([]);
  });

  it('`fields` compares only the named fields and reports the first difference by path', async () => {
    const [o] = await outcomes(`  - name: fields
    input: { market.prices: [ { key: k, value: { n: 1, deep: { x: 2 } } } ] }
    expect: { forecasts.prices: [ { fields: { deep.x: 3 } }, { fields: { n: 1 } } ] }
`);
    expect(o!.failures).toEqual([
      'forecasts.prices[0]: value.deep.x is 2, expected 3',
      'forecasts.prices[1]: missing record, expected {"n":1}',
    ]);
  });

  it('validation: at only on inputs, fields only on expected records (not with value), times in order and parseable', () => {
    const r = loadPipelineText(
      `${header}  - name: bad
    clock: { start: 2026-03-29T10:00:00Z, end: 2026-03-29T09:00:00Z }
    input: { market.prices: [ { at: 2026-03-29T09:59:00Z, value: {} }, { at: soon, fields: { a: 1 } } ] }
    expect: { forecasts.prices: [ { at: 5, value: {}, fields: { a: 1 } } ] }
`,
      't.yaml',
      { env: {}, registry },
    );
    expect(r.ok ? [] : r.issues.map(formatIssue)).toEqual([
      't.yaml:6:48 clock.end 2026-03-29T09:00:00.000Z is before the last input arrives (2026-03-29T10:00:00.000Z)',
      "t.yaml:7:37 at 2026-03-29T09:59:00.000Z is before the case's clock.start 2026-03-29T10:00:00.000Z",
      't.yaml:7:78 "soon" is not an ISO-8601 time (e.g. 2026-03-29T10:00:00Z) or ms since the epoch',
      't.yaml:7:84 `fields` is for expected records; an input record gives its whole `value`',
      't.yaml:8:37 `at` is for input records (when they arrive); expected records are checked after the run',
      't.yaml:8:55 give either `value` (all of it) or `fields` (some of it), not both',
    ]);
  });
});
