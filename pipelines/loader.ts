import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import {
  defaultSettings,
  dlqTopic,
  OptiBidError,
  type ComponentRegistry,
  type PipelineSpec,
  type ProcessorDefinition,
  type ProcessorNode,
  type SinkDefinition,
  type SinkNode,
  type SourceDefinition,
  type SourceNode,
  type TopicSpec,
} from '@optibid/runtime';
import { builtinRegistry } from './builtins.js';
import { PipelineDocument, type TestCase } from './document.js';

/** One problem in a pipeline file, with where it is. */
export interface PipelineIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** `FILE:LINE:COL message`, the format editors and CI annotate. */
export function formatIssue(issue: PipelineIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.message}`;
}

export interface LoadOptions {
  registry?: ComponentRegistry;
  /** Values for `${VAR}` (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `avro/<topic>-value.avsc` (default: the repository's schemas/). */
  schemasDir?: string;
  /**
   * `require` (default, what `optibid run` uses): an unset `${VAR}` without a default is an error anywhere.
   * `defer` (validate, `tests:`): inside a source's or sink's `config` it is only a note, since tests never
   * start sources and sinks, so a file whose webhook secret lives in the environment validates and tests
   * in a clean clone; the value keeps the `${VAR}` text. Processor config always needs its variables.
   */
  connectorEnv?: 'require' | 'defer';
}

/** A pipeline file that validated: the spec transports run, its tests, and a way back to source positions. */
export interface LoadedPipeline {
  file: string;
  document: PipelineDocument;
  spec: PipelineSpec;
  tests: TestCase[];
  /** Line and column of a path in the file (e.g. ['tests', 0, 'expect']). */
  locate(path: Array<string | number>): { line: number; column: number };
  /** Not errors: unset variables of source/sink config left for run time (`connectorEnv: 'defer'`). */
  notes: PipelineIssue[];
}

export type LoadResult = { ok: true; pipeline: LoadedPipeline; issues: [] } | { ok: false; issues: PipelineIssue[] };

/** The repository's schemas/ folder, found by walking up from this module. */
export function defaultSchemasDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'schemas', 'avro'))) return join(dir, 'schemas');
    dir = dirname(dir);
  }
  return resolve('schemas');
}

/** Reads and validates a pipeline file. Never throws for a problem in the file: it is reported as an issue. */
export function loadPipelineFile(file: string, opts: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      issues: [{ file, line: 1, column: 1, message: `cannot read file: ${(err as Error).message}` }],
    };
  }
  return loadPipelineText(text, file, opts);
}

const envPattern = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in `text`; `$${` is a literal `${`. Returns the unset names too. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = text.replace(envPattern, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const v = env[name!];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    missing.push(name!);
    return '';
  });
  return { value, missing };
}

/** Validates pipeline YAML text; `file` names it in issues and anchors relative schema paths. */
export function loadPipelineText(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const registry = opts.registry ?? builtinRegistry();
  const env = opts.env ?? process.env;
  const schemasDir = opts.schemasDir ?? defaultSchemasDir();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: PipelineIssue[] = [];
  const at = (offset: number, message: string) => {
    const pos = lineCounter.linePos(offset);
    issues.push({ file, line: pos.line, column: pos.col, message });
  };
  for (const err of doc.errors) at(err.pos[0], err.message.split('\n')[0]!);
  if (issues.length) return { ok: false, issues };

  const notes: PipelineIssue[] = [];
  const deferred = new Set<string>(); // `${NAME}` texts left in connector config
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const { value, missing } = substituteEnv(original, env);
      const offset = node.range?.[0] ?? 0;
      if (missing.length > 0) {
        // The value keeps the `${NAME}` text, and config checks skip it: the variable is what is missing.
        for (const name of missing) deferred.add(`\${${name}}`);
        node.value = substituteEnv(original, {
          ...env,
          ...Object.fromEntries(missing.map((n) => [n, `\${${n}}`])),
        }).value;
        const pos = lineCounter.linePos(offset);
        const defer = opts.connectorEnv === 'defer' && inConnectorConfig(path);
        for (const name of missing) {
          if (defer)
            notes.push({
              file,
              line: pos.line,
              column: pos.col,
              message: `environment variable ${name} is not set: \`optibid run\` will need it`,
            });
          else at(offset, `environment variable ${name} is not set (use \${${name}:-default} for a default)`);
        }
        return;
      }
      node.value = node.type === 'PLAIN' && wholeReference.test(original) ? plainScalar(value) : value;
    },
  });

  const locator = makeLocator(doc, lineCounter);
  const issueAt = (path: Array<string | number>, message: string, which: 'key' | 'value' = 'value') => {
    const pos = locator(path, which);
    issues.push({ file, line: pos.line, column: pos.column, message });
  };

  const js = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (js === null || typeof js !== 'object' || Array.isArray(js)) {
    issueAt([], 'a pipeline file must be a mapping with at least `name`');
    return { ok: false, issues };
  }
  for (const e of schemaErrors(PipelineDocument, js)) reportSchemaError(e, [], issueAt, 'top level');

  const document = js as unknown as PipelineDocument;
  const spec = buildSpec(document, registry, issueAt, deferred);
  checkTopics(document, spec, file, schemasDir, issueAt);
  checkCycles(document, spec, issueAt);
  checkTests(document, spec, issueAt);

  if (issues.length) {
    const unique = [...new Map(issues.map((i) => [formatIssue(i), i])).values()];
    unique.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, issues: unique };
  }
  return {
    ok: true,
    issues: [],
    pipeline: { file, document, spec, tests: document.tests ?? [], locate: (path) => locator(path, 'value'), notes },
  };
}

/** A scalar that is one `${VAR}` or `${VAR:-default}` and nothing else. */
const wholeReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/**
 * The value of an unquoted scalar that was a lone `${VAR}`: a number or boolean as YAML would have read
 * the text in place (`retentionDays: ${DAYS:-730}` is the number 730); anything else stays a string.
 * Quote the reference to keep a string ("${PORT}").
 */
function plainScalar(text: string): string | number | boolean {
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/** Whether a YAML node path runs through `sources[i].config` or `sinks[i].config`. */
function inConnectorConfig(path: readonly unknown[]): boolean {
  const keys = path.filter(isPair).map((p) => (isScalar(p.key) ? p.key.value : undefined));
  return (keys[0] === 'sources' || keys[0] === 'sinks') && keys[1] === 'config';
}

type IssueAt = (path: Array<string | number>, message: string, which?: 'key' | 'value') => void;

/** TypeBox errors, with a union's errors replaced by those of its closest variant. */
function schemaErrors(schema: Parameters<typeof Value.Errors>[0], value: unknown): ValueError[] {
  return expandUnions([...Value.Errors(schema, value)]);
}

function expandUnions(errors: ValueError[]): ValueError[] {
  const out: ValueError[] = [];
  for (const e of errors) {
    if (e.errors && e.errors.length > 0) {
      const variants = e.errors.map((it) => [...it]).filter((v) => v.length > 0);
      // an enum (a union of literals): name every allowed value, not the first variant's
      const literals = variants.map((v) => (v.length === 1 && v[0].path === e.path ? v[0].schema.const : undefined));
      if (literals.length > 1 && literals.every((c) => c !== undefined)) {
        out.push({ ...e, message: `Expected one of ${literals.map((c) => JSON.stringify(c)).join(', ')}` });
        continue;
      }
      // the variant whose discriminator (a literal `type`) matched, else the one with the fewest errors
      const matching = variants.filter((v) => !v.some((x) => x.path === `${e.path}/type`));
      const pool = matching.length > 0 ? matching : variants;
      const best = pool.sort((a, b) => a.length - b.length)[0];
      if (best && (matching.length > 0 || variants.length === 1)) {
        out.push(...expandUnions(best));
        continue;
      }
    }
    out.push(e);
  }
  return out;
}

function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function reportSchemaError(e: ValueError, base: Array<string | number>, issueAt: IssueAt, where: string): void {
  const rel = pointerToPath(e.path);
  const path = [...base, ...rel];
  const dotted = path.join('.');
  if (e.message === 'Unexpected property' || e.message.startsWith('Unexpected property')) {
    const parent = path.slice(0, -1).join('.') || where;
    issueAt(path, `unknown key "${String(path[path.length - 1])}" in ${parent}`, 'key');
  } else if (e.value === undefined) {
    issueAt(
      path.slice(0, -1),
      `missing required key "${String(path[path.length - 1])}" in ${path.slice(0, -1).join('.') || where}`,
      'key',
    );
  } else {
    const message = e.message.charAt(0).toLowerCase() + e.message.slice(1);
    issueAt(path, `${dotted || where}: ${message}, got ${JSON.stringify(e.value)}`);
  }
}

function topicList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function buildSpec(
  doc: PipelineDocument,
  registry: ComponentRegistry,
  issueAt: IssueAt,
  deferred: Set<string>,
): PipelineSpec {
  const names = new Map<string, string>();
  const sources: SourceNode[] = [];
  const processors: ProcessorNode[] = [];
  const sinks: SinkNode[] = [];
  const sections = [
    ['sources', 'source'],
    ['processors', 'processor'],
    ['sinks', 'sink'],
  ] as const;
  for (const [section, kind] of sections) {
    const entries = (Array.isArray(doc[section]) ? doc[section] : []) as Array<Record<string, unknown>>;
    entries.forEach((entry, i) => {
      if (!entry || typeof entry !== 'object') return;
      const name = String(entry.name ?? `${kind}-${i}`);
      if (names.has(name))
        issueAt([section, i, 'name'], `component name "${name}" is already used by a ${names.get(name)}`);
      names.set(name, kind);
      if (typeof entry.use !== 'string') return;
      const def = registry.get(entry.use);
      if (!def) {
        const known = registry.list(kind).map((d) => d.name);
        issueAt(
          [section, i, 'use'],
          `unknown ${kind} component "${entry.use}"${known.length ? ` (known: ${known.join(', ')})` : ' (no built-in components of this kind yet)'}`,
        );
        return;
      }
      if (def.kind !== kind) {
        issueAt([section, i, 'use'], `"${entry.use}" is a ${def.kind}, not a ${kind}: move it to ${def.kind}s`);
        return;
      }
      const rawConfig = entry.config === undefined ? {} : entry.config;
      const config = Value.Default(def.config, structuredClone(rawConfig));
      // A value still holding a deferred `${VAR}` is checked at run time, once the variable is set.
      const errors = schemaErrors(def.config, config).filter(
        (e) => !(typeof e.value === 'string' && [...deferred].some((d) => (e.value as string).includes(d))),
      );
      for (const e of errors) reportSchemaError(e, [section, i, 'config'], issueAt, `${name}.config`);
      if (errors.length) return;
      if (kind === 'source') {
        const outputs = entry.outputs === undefined ? (def as SourceDefinition).outputs : topicList(entry.outputs);
        sources.push({ name, definition: def as SourceDefinition, config, outputs });
      } else if (kind === 'processor') {
        processors.push({
          name,
          definition: def as ProcessorDefinition,
          config,
          inputs: topicList(entry.inputs),
          outputs: topicList(entry.outputs),
        });
      } else {
        sinks.push({ name, definition: def as SinkDefinition, config, inputs: topicList(entry.inputs) });
      }
    });
  }
  const settings = { ...defaultSettings };
  const s = doc.settings;
  if (s && typeof s === 'object') {
    if (s.batchSize !== undefined) settings.batchSize = s.batchSize;
    if (s.maxInFlight !== undefined) settings.maxInFlight = s.maxInFlight;
    if (s.maxOutOfOrderness !== undefined) settings.maxOutOfOrdernessMs = durationMs(s.maxOutOfOrderness);
  }
  return {
    name: typeof doc.name === 'string' ? doc.name : 'pipeline',
    sources,
    processors,
    sinks,
    topics: new Map(),
    settings,
  };
}

function durationMs(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(v);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m?.[2] as 'ms'] ?? 1;
  return Number(m?.[1] ?? 0) * unit;
}

/** Every topic reference in the document with its path, in file order. */
function topicReferences(doc: PipelineDocument): Array<{ topic: string; path: Array<string | number> }> {
  const refs: Array<{ topic: string; path: Array<string | number> }> = [];
  const add = (v: unknown, path: Array<string | number>) => {
    if (typeof v === 'string') refs.push({ topic: v, path });
    else if (Array.isArray(v))
      v.forEach((t, j) => typeof t === 'string' && refs.push({ topic: t, path: [...path, j] }));
  };
  for (const section of ['sources', 'processors', 'sinks'] as const) {
    const entries = (Array.isArray(doc[section]) ? doc[section] : []) as Array<Record<string, unknown>>;
    entries.forEach((e, i) => {
      if (!e || typeof e !== 'object') return;
      add(e.inputs, [section, i, 'inputs']);
      add(e.outputs, [section, i, 'outputs']);
    });
  }
  return refs;
}

function checkTopics(
  doc: PipelineDocument,
  spec: PipelineSpec,
  file: string,
  schemasDir: string,
  issueAt: IssueAt,
): void {
  const declared = (doc.topics && typeof doc.topics === 'object' ? doc.topics : {}) as NonNullable<
    PipelineDocument['topics']
  >;
  const used = new Map<string, Array<string | number>>();
  for (const ref of topicReferences(doc)) if (!used.has(ref.topic)) used.set(ref.topic, ref.path);
  for (const s of spec.sources)
    for (const t of s.outputs)
      if (!used.has(t)) used.set(t, ['sources', doc.sources!.findIndex((e) => e.name === s.name), 'use']);
  const topics = new Map<string, TopicSpec>();
  for (const [topic, path] of used) {
    const entry = declared[topic];
    const partitions = entry?.partitions ?? 1;
    if (topic.startsWith('dlq.')) {
      topics.set(topic, { name: topic, partitions });
      continue;
    }
    let schemaFile: string | undefined;
    if (entry?.schema) {
      schemaFile = resolve(dirname(file), entry.schema);
      if (!existsSync(schemaFile)) {
        issueAt(['topics', topic, 'schema'], `schema file ${entry.schema} of topic "${topic}" does not exist`);
        continue;
      }
    } else {
      const candidate = join(schemasDir, 'avro', `${topic}-value.avsc`);
      if (existsSync(candidate)) schemaFile = candidate;
      else {
        issueAt(path, `topic "${topic}" has no schema: add schemas/avro/${topic}-value.avsc or topics.${topic}.schema`);
        continue;
      }
    }
    topics.set(topic, { name: topic, partitions, schemaFile });
  }
  for (const topic of Object.keys(declared)) {
    if (!used.has(topic))
      issueAt(['topics', topic], `topic "${topic}" is declared but no component reads or writes it`, 'key');
  }
  spec.topics = topics;
  if (!topics.has(dlqTopic(spec.name))) topics.set(dlqTopic(spec.name), { name: dlqTopic(spec.name), partitions: 1 });
}

function checkCycles(doc: PipelineDocument, spec: PipelineSpec, issueAt: IssueAt): void {
  const readers = new Map<string, ProcessorNode[]>();
  for (const p of spec.processors) for (const t of p.inputs) readers.set(t, [...(readers.get(t) ?? []), p]);
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  const walk = (p: ProcessorNode, trail: string[]): void => {
    state.set(p.name, 'visiting');
    for (const t of p.outputs) {
      for (const next of readers.get(t) ?? []) {
        if (state.get(next.name) === 'visiting') {
          const start = trail.indexOf(next.name);
          const cycle = [...trail.slice(start < 0 ? 0 : start), p.name];
          const id = [...cycle].sort().join(',');
          if (!reported.has(id)) {
            reported.add(id);
            const i = doc.processors!.findIndex((e) => e.name === next.name);
            issueAt(['processors', i, 'inputs'], `cycle: ${[...cycle, next.name].join(' -> ')} (through topic "${t}")`);
          }
        } else if (!state.has(next.name)) walk(next, [...trail, p.name]);
      }
    }
    state.set(p.name, 'done');
  };
  for (const p of spec.processors) if (!state.has(p.name)) walk(p, []);
}

function checkTests(doc: PipelineDocument, spec: PipelineSpec, issueAt: IssueAt): void {
  if (!Array.isArray(doc.tests)) return;
  // Every declared processor counts, also one whose config has errors (those are reported on their own).
  const declared = Array.isArray(doc.processors) ? doc.processors : [];
  const consumed = new Set([
    ...spec.processors.flatMap((p) => p.inputs),
    ...declared.flatMap((e) => (e && typeof e === 'object' ? topicList((e as { inputs?: unknown }).inputs) : [])),
  ]);
  doc.tests.forEach((test, i) => {
    if (!test || typeof test !== 'object') return;
    for (const topic of Object.keys(test.input ?? {})) {
      if (!consumed.has(topic))
        issueAt(['tests', i, 'input', topic], `test input topic "${topic}" is not an input of any processor`, 'key');
    }
    for (const topic of Object.keys(test.expect ?? {})) {
      if (!spec.topics.has(topic))
        issueAt(
          ['tests', i, 'expect', topic],
          `test expects records on "${topic}", which this pipeline does not use`,
          'key',
        );
    }
    checkTestTimes(test, i, issueAt);
  });
}

/** A time of a test (ms or ISO-8601), or an issue at `path`. */
function testTime(v: unknown, path: Array<string | number>, issueAt: IssueAt): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    issueAt(path, `"${v}" is not an ISO-8601 time (e.g. 2026-03-29T10:00:00Z) or ms since the epoch`);
  return Number.isNaN(t) ? undefined : t;
}

/** `clock`, `at` and `fields` of one test case: where they may appear and in what order. */
function checkTestTimes(test: TestCase, i: number, issueAt: IssueAt): void {
  const clock = test.clock && typeof test.clock === 'object' ? test.clock : {};
  const start = testTime(clock.start, ['tests', i, 'clock', 'start'], issueAt) ?? 0;
  let last = start;
  for (const [topic, records] of Object.entries(test.input ?? {})) {
    if (!Array.isArray(records)) continue;
    records.forEach((r, j) => {
      if (!r || typeof r !== 'object') return;
      const path = ['tests', i, 'input', topic, j];
      if (r.fields !== undefined)
        issueAt(
          [...path, 'fields'],
          '`fields` is for expected records; an input record gives its whole `value`',
          'key',
        );
      const at = testTime(r.at, [...path, 'at'], issueAt);
      if (at === undefined) return;
      if (at < start)
        issueAt(
          [...path, 'at'],
          `at ${new Date(at).toISOString()} is before the case's clock.start ${new Date(start).toISOString()}`,
        );
      last = Math.max(last, at);
    });
  }
  for (const [topic, records] of Object.entries(test.expect ?? {})) {
    if (!Array.isArray(records)) continue;
    records.forEach((r, j) => {
      if (!r || typeof r !== 'object') return;
      const path = ['tests', i, 'expect', topic, j];
      if (r.at !== undefined)
        issueAt(
          [...path, 'at'],
          '`at` is for input records (when they arrive); expected records are checked after the run',
          'key',
        );
      if (r.fields !== undefined && r.value !== undefined)
        issueAt([...path, 'fields'], 'give either `value` (all of it) or `fields` (some of it), not both', 'key');
    });
  }
  const end = testTime(clock.end, ['tests', i, 'clock', 'end'], issueAt);
  if (end !== undefined && end < last)
    issueAt(
      ['tests', i, 'clock', 'end'],
      `clock.end ${new Date(end).toISOString()} is before the last input arrives (${new Date(last).toISOString()})`,
    );
}

/** Maps a path in the document to line and column (1-based) of its key or value. */
function makeLocator(doc: Document, lc: LineCounter) {
  return (path: Array<string | number>, which: 'key' | 'value'): { line: number; column: number } => {
    let node: Node | null | undefined = doc.contents as Node | null;
    let keyNode: Node | undefined;
    let last: Node | undefined = node ?? undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) =>
            (isScalar(p.key) ? p.key.value : p.key) === seg ||
            String(isScalar(p.key) ? p.key.value : '') === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value as Node | null;
        last = (node ?? keyNode) as Node;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        keyNode = undefined;
        node = item;
        last = item;
      } else break;
    }
    const target = which === 'key' && keyNode ? keyNode : (last ?? keyNode);
    const offset = target?.range?.[0] ?? 0;
    const pos = lc.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}

/** Throws an OPTIBID_ERR_CONFIG error listing every issue (for callers that just need a spec). */
export function loadPipelineOrThrow(file: string, opts: LoadOptions = {}): LoadedPipeline {
  const r = loadPipelineFile(file, opts);
  if (!r.ok) {
    const first = r.issues[0]!;
    throw new OptiBidError('OPTIBID_ERR_CONFIG', r.issues.map(formatIssue).join('\n'), {
      context: { file: first.file, line: first.line, column: first.column },
    });
  }
  return r.pipeline;
}
