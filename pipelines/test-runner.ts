import { Type } from '@sinclair/typebox';
import {
  EndOfInput,
  MemoryTransport,
  VirtualClock,
  defineSource,
  type MemoryRunningPipeline,
  type OutRecord,
  type SourceDefinition,
  type SourceNode,
  type StreamRecord,
} from '@optibid/runtime';
import type { LoadedPipeline } from './loader.js';
import type { TestCase, TestRecord } from './document.js';

/** Outcome of one `tests:` case. */
export interface TestOutcome {
  name: string;
  passed: boolean;
  /** Why it failed, one line each, naming the topic and record index. */
  failures: string[];
  /** Where the case is in the file. */
  line: number;
  column: number;
}

/** Event time of a test record: ms, or an ISO-8601 string. */
export function testTimestamp(v: number | string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`"${v}" is not an ISO-8601 timestamp`);
  return t;
}

/**
 * Runs each `tests:` case on a fresh memory transport: the case's input records go onto their topics,
 * the processors run until idle (end of input closes every window), then each expected topic must hold
 * exactly the expected records in order. Sources and sinks are not run (they talk to the outside world).
 * The virtual clock stays at `clock.start` (default 0) unless records carry `at` or the case sets
 * `clock.end`: then records arrive in `at` order, the processors run until idle between arrival times,
 * the clock moves to each arrival time (and finally to `clock.end`) and processor timers run there.
 */
export async function runPipelineTests(pipeline: LoadedPipeline): Promise<TestOutcome[]> {
  const outcomes: TestOutcome[] = [];
  for (let i = 0; i < pipeline.tests.length; i++) {
    const test = pipeline.tests[i]!;
    const pos = pipeline.locate(['tests', i, 'name']);
    let failures: string[];
    try {
      failures = await runCase(pipeline, test);
    } catch (err) {
      failures = [`error: ${(err as Error).message}`];
    }
    outcomes.push({ name: test.name, passed: failures.length === 0, failures, line: pos.line, column: pos.column });
  }
  return outcomes;
}

async function runCase(pipeline: LoadedPipeline, test: TestCase): Promise<string[]> {
  const transport = new MemoryTransport();
  const { spec } = pipeline;
  for (const t of spec.topics.values()) transport.broker.createTopic(t.name, t.partitions);
  const start = testTimestamp(test.clock?.start, 0);
  const clock = new VirtualClock(start);
  const inputs: Array<{ record: OutRecord; at: number }> = [];
  for (const [topic, records] of Object.entries(test.input)) {
    records.forEach((r, j) => inputs.push({ record: toRecord(topic, r, j), at: testTimestamp(r.at, start) }));
  }
  const processors = spec.processors.map((p) => p.name);
  const timed = test.clock?.end !== undefined || inputs.some((i) => i.at !== start);
  if (!timed) {
    // Everything arrives at once, at the start time.
    transport.broker.append(inputs.map((i) => i.record));
    const run = await transport.start(spec, { clock, untilIdle: true, only: processors });
    await run.done;
  } else {
    // Records arrive in `at` order from a test source that waits for the processors to go idle before it
    // moves the clock to the next arrival time (then runs their timers), like a live run on virtual time.
    const arrivals = timedArrivals(
      inputs,
      test.clock?.end === undefined ? undefined : testTimestamp(test.clock.end, start),
    );
    const ready = deferred<MemoryRunningPipeline>();
    const source = arrivalSource(arrivals, clock, ready.promise);
    const topics = [...new Set(inputs.map((i) => i.record.topic))];
    const node: SourceNode = { name: testSourceName, definition: source, config: {}, outputs: topics };
    const run = await transport.start(
      { ...spec, sources: [node] },
      { clock, untilIdle: true, only: [...processors, testSourceName] },
    );
    ready.resolve(run);
    await run.done;
  }
  const failures: string[] = [];
  for (const [topic, expected] of Object.entries(test.expect)) {
    const actual = transport.broker.records(topic);
    const writers = spec.processors.filter((p) => p.outputs.includes(topic)).length;
    // Order is defined per producer: a topic several components write (every dlq.*) is compared as a set.
    const ordered = !topic.startsWith('dlq.') && writers <= 1;
    failures.push(...(ordered ? compareTopic(topic, expected, actual) : compareUnordered(topic, expected, actual)));
  }
  return failures;
}

const testSourceName = 'test-input';

/** Input records grouped by arrival time, earliest first; a last empty group at `end` when set. */
function timedArrivals(
  inputs: Array<{ record: OutRecord; at: number }>,
  end: number | undefined,
): Array<{ at: number; records: OutRecord[] }> {
  const byTime = new Map<number, OutRecord[]>();
  for (const i of [...inputs].sort((a, b) => a.at - b.at)) byTime.set(i.at, [...(byTime.get(i.at) ?? []), i.record]);
  const out = [...byTime].map(([at, records]) => ({ at, records }));
  if (end !== undefined && (out.length === 0 || end > out[out.length - 1]!.at)) out.push({ at: end, records: [] });
  return out;
}

/** The source behind timed test cases: one batch per arrival time, each after the processors went idle. */
function arrivalSource(
  arrivals: Array<{ at: number; records: OutRecord[] }>,
  clock: VirtualClock,
  run: Promise<MemoryRunningPipeline>,
): SourceDefinition {
  let next = 0;
  return defineSource({
    name: testSourceName,
    status: 'stable',
    summary: 'the input records of a pipeline test case, in arrival order',
    outputs: [],
    config: Type.Object({}),
    create: () => ({
      async connect() {},
      async read() {
        const r = await run;
        if (next > 0) await idle(r);
        const arrival = arrivals[next++];
        if (!arrival) throw new EndOfInput();
        clock.set(Math.max(clock.now(), arrival.at));
        await r.runTimers();
        return { records: arrival.records, ack: async () => {} };
      },
      async close() {},
    }),
  });
}

/** Resolves once no processor has unprocessed input (its outputs are then on their topics too). */
async function idle(run: MemoryRunningPipeline): Promise<void> {
  for (let i = 0; i < 1_000_000; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (run.stats().every((s) => s.kind !== 'processor' || s.lag === 0)) return;
  }
  throw new Error('the processors did not go idle');
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function toRecord(topic: string, r: TestRecord, index: number): OutRecord {
  return {
    topic,
    key: r.key ?? null,
    value: r.value ?? null,
    timestamp: testTimestamp(r.timestamp, index),
    headers: r.headers,
  };
}

/** Differences between expected and actual records of one topic, as messages. */
export function compareTopic(topic: string, expected: TestRecord[], actual: StreamRecord[]): string[] {
  const failures: string[] = [];
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!e) {
      failures.push(`${topic}[${i}]: unexpected record ${show(a!)}`);
      continue;
    }
    if (!a) {
      failures.push(
        `${topic}[${i}]: missing record, expected ${JSON.stringify(e.value ?? e.fields ?? { key: e.key })}`,
      );
      continue;
    }
    if (e.key !== undefined && e.key !== a.key)
      failures.push(`${topic}[${i}]: key ${JSON.stringify(a.key)}, expected ${JSON.stringify(e.key)}`);
    if (e.timestamp !== undefined && testTimestamp(e.timestamp, 0) !== a.timestamp) {
      failures.push(
        `${topic}[${i}]: timestamp ${new Date(a.timestamp).toISOString()}, expected ${new Date(testTimestamp(e.timestamp, 0)).toISOString()}`,
      );
    }
    const diff = 'value' in e ? firstDifference(e.value, a.value, 'value') : undefined;
    if (diff) failures.push(`${topic}[${i}]: ${diff}`);
    for (const [path, want] of Object.entries(e.fields ?? {})) {
      const d = firstDifference(want, valueAt(a.value, path), `value.${path}`);
      if (d) failures.push(`${topic}[${i}]: ${d}`);
    }
    for (const [h, v] of Object.entries(e.headers ?? {})) {
      if (a.headers?.[h] !== v)
        failures.push(
          `${topic}[${i}]: header ${h} is ${JSON.stringify(a.headers?.[h])}, expected ${JSON.stringify(v)}`,
        );
    }
  }
  return failures;
}

/** Like compareTopic, but each expected record may match any one actual record. */
export function compareUnordered(topic: string, expected: TestRecord[], actual: StreamRecord[]): string[] {
  const left = [...actual];
  const failures: string[] = [];
  expected.forEach((e, i) => {
    const j = left.findIndex((a) => compareTopic(topic, [e], [a]).length === 0);
    if (j >= 0) left.splice(j, 1);
    else failures.push(`${topic}: no record matches expected #${i} ${JSON.stringify(e)}`);
  });
  for (const a of left) failures.push(`${topic}: unexpected record ${show(a)}`);
  return failures;
}

/** The value at a dotted path (`quantiles.0.price`), or undefined. */
function valueAt(value: unknown, path: string): unknown {
  let cur = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function show(r: StreamRecord): string {
  return JSON.stringify({ key: r.key, value: r.value, timestamp: r.timestamp });
}

/** The first place two values differ (numbers within 1e-9 relative count as equal), or undefined. */
export function firstDifference(expected: unknown, actual: unknown, path: string): string | undefined {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tol = 1e-9 * Math.max(1, Math.abs(expected));
    return Math.abs(expected - actual) <= tol ? undefined : `${path} is ${actual}, expected ${expected}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path} is ${JSON.stringify(actual)}, expected a list`;
    if (actual.length !== expected.length) return `${path} has ${actual.length} items, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = firstDifference(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return `${path} is ${JSON.stringify(actual)}, expected an object`;
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of keys) {
      const d = firstDifference(
        (expected as Record<string, unknown>)[k],
        (actual as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(expected, actual) || (expected === undefined && actual === undefined)
    ? undefined
    : `${path} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}
