import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { LineCounter, isMap, isSeq, isPair, isScalar, parseDocument, type Document, type Node } from 'yaml';
import { OptiBidError } from '@optibid/runtime';
import { MarketCalendar } from './calendar.js';
import { parseDuration } from './duration.js';
import { isValidTimeZone } from '@optibid/runtime';
import {
  RulesFileShape,
  ruleSchemas,
  type RouteSpec,
  type RuleKind,
  type RuleSpec,
  type RulesFile,
} from './rules-schema.js';

/** One problem found in a rules file, with its position (1-based line and column). */
export interface RulesProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Formats problems as `FILE:LINE:COL message` lines. */
export function formatProblems(problems: RulesProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`).join('\n');
}

/** Thrown when a rules file does not validate; `problems` lists every located error. */
export class RulesFileError extends OptiBidError {
  constructor(readonly problems: RulesProblem[]) {
    super('OPTIBID_ERR_CONFIG', formatProblems(problems), {
      context: { file: problems[0]?.file, line: problems[0]?.line, column: problems[0]?.column },
    });
  }
}

type PathSegment = string | number;

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  /** Position of the node at `path` (its key when `atKey`), falling back to the nearest existing ancestor. */
  at(path: PathSegment[], message: string, atKey = false): RulesProblem {
    let node: unknown = this.doc.contents;
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (last && atKey) {
          offset = keyNode.range?.[0] ?? offset;
          break;
        }
        node = pair.value;
        offset = (pair.value as Node | null)?.range?.[0] ?? keyNode.range?.[0] ?? offset;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)] as Node | undefined;
        if (!item) break;
        node = item;
        offset = item.range?.[0] ?? offset;
      } else break;
    }
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col, message };
  }
}

function pathOf(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describeError(e: { message: string; schema: TSchema; path: string }): string {
  const anyOf = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  const key = String(pathOf(e.path).at(-1) ?? 'document');
  if (anyOf && anyOf.every((s) => s.const !== undefined))
    return `${key}: must be one of ${anyOf.map((s) => String(s.const)).join(', ')}`;
  if (e.message === 'Unexpected property') return `unknown key "${key}"`;
  if (e.message === 'Expected required property') return `missing required key "${key}"`;
  return `${key}: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}`;
}

function schemaProblems(schema: TSchema, value: unknown, base: PathSegment[], loc: Locator): RulesProblem[] {
  const seen = new Set<string>();
  const problems: RulesProblem[] = [];
  for (const e of Value.Errors(schema, value)) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    const rel = pathOf(e.path);
    // A missing key is reported at its parent object; an unknown key at the key itself.
    const path = e.message === 'Expected required property' ? [...base, ...rel.slice(0, -1)] : [...base, ...rel];
    problems.push(loc.at(path, describeError(e), e.message === 'Unexpected property'));
  }
  return problems;
}

/** Parses and validates a rules document; `file` names it in error messages. Throws RulesFileError. */
export function parseRules(text: string, file = '<rules>'): RulesFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RulesFileError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const loc = new Locator(doc, lines, file);
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RulesFileError([loc.at([], 'a rules file is a mapping with a `rules:` list')]);
  }
  const problems = schemaProblems(RulesFileShape, raw, [], loc);
  if (problems.length > 0) throw new RulesFileError(problems);

  const file_ = raw as unknown as RulesFile & { rules: unknown[] };
  const calendar = checkMarkets(file_, loc, problems);
  const names = new Map<string, number>();
  file_.rules.forEach((rule, i) => {
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
      problems.push(loc.at(['rules', i], 'a rule is a mapping with at least `name` and `kind`'));
      return;
    }
    const kind = (rule as { kind?: unknown }).kind;
    if (typeof kind !== 'string' || !(kind in ruleSchemas)) {
      const where =
        kind === undefined ? loc.at(['rules', i], 'missing required key "kind"') : loc.at(['rules', i, 'kind'], '');
      where.message =
        kind === undefined
          ? where.message
          : `kind: unknown rule kind "${String(kind)}"; expected one of ${Object.keys(ruleSchemas).join(', ')}`;
      problems.push(where);
      return;
    }
    const ruleProblems = schemaProblems(ruleSchemas[kind as RuleKind], rule, ['rules', i], loc);
    problems.push(...ruleProblems);
    if (ruleProblems.length > 0) return;
    const spec = rule as RuleSpec;
    const previous = names.get(spec.name);
    if (previous !== undefined)
      problems.push(
        loc.at(['rules', i, 'name'], `name: rule "${spec.name}" is already defined (rule ${previous + 1})`),
      );
    names.set(spec.name, i);
    checkRule(spec, i, loc, problems, calendar);
  });
  const defaults = file_.defaults ?? {};
  for (const key of ['repeatInterval', 'for'] as const) {
    const d = defaults[key];
    if (d !== undefined && parseDuration(d) === undefined)
      problems.push(loc.at(['defaults', key], `${key}: "${d}" is not a duration (e.g. 30s, 5m, 1h)`));
  }
  const receivers = new Set<string>();
  (file_.receivers ?? []).forEach((r, i) => {
    if (receivers.has(r.name))
      problems.push(loc.at(['receivers', i, 'name'], `name: receiver "${r.name}" is defined twice`));
    receivers.add(r.name);
  });
  if (file_.route) checkRoute(file_.route, ['route'], receivers, loc, problems, true);
  (file_.silences ?? []).forEach((s, i) => {
    const starts = Date.parse(s.startsAt);
    const ends = Date.parse(s.endsAt);
    if (Number.isNaN(starts))
      problems.push(loc.at(['silences', i, 'startsAt'], `startsAt: "${s.startsAt}" is not an ISO 8601 instant`));
    if (Number.isNaN(ends))
      problems.push(loc.at(['silences', i, 'endsAt'], `endsAt: "${s.endsAt}" is not an ISO 8601 instant`));
    else if (ends <= starts) problems.push(loc.at(['silences', i, 'endsAt'], 'endsAt: must be after startsAt'));
    checkRegexes(s.matchersRe, ['silences', i, 'matchersRe'], loc, problems);
  });
  (file_.maintenance ?? []).forEach((m, i) => {
    if (!isValidTimeZone(m.timeZone))
      problems.push(loc.at(['maintenance', i, 'timeZone'], `timeZone: unknown time zone "${m.timeZone}"`));
    if (m.expiresAt !== undefined && Number.isNaN(Date.parse(m.expiresAt)))
      problems.push(loc.at(['maintenance', i, 'expiresAt'], `expiresAt: "${m.expiresAt}" is not an ISO 8601 instant`));
    if (m.start === m.end) problems.push(loc.at(['maintenance', i, 'end'], 'end: must differ from start'));
    checkRegexes(m.matchersRe, ['maintenance', i, 'matchersRe'], loc, problems);
  });
  if (problems.length > 0) throw new RulesFileError(problems);
  return {
    defaults,
    markets: file_.markets ?? {},
    rules: file_.rules as RuleSpec[],
    receivers: file_.receivers ?? [],
    route: file_.route,
    silences: file_.silences ?? [],
    maintenance: file_.maintenance ?? [],
  };
}

/** Reads, parses and validates a rules file. Throws RulesFileError (`FILE:LINE:COL message`). */
export function loadRulesFile(path: string): RulesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RulesFileError([
      { file: path, line: 1, column: 1, message: `cannot read rules file: ${(err as Error).message}` },
    ]);
  }
  return parseRules(text, path);
}

function checkMarkets(file: RulesFile, loc: Locator, problems: RulesProblem[]): MarketCalendar {
  for (const [name, m] of Object.entries(file.markets ?? {})) {
    if (m.timeZone !== undefined && !isValidTimeZone(m.timeZone))
      problems.push(loc.at(['markets', name, 'timeZone'], `timeZone: unknown time zone "${m.timeZone}"`));
    if (m.timeZone === undefined && !['EPEX', 'NORDPOOL', 'IEX', 'PJM'].includes(name))
      problems.push(
        loc.at(['markets', name], `market "${name}" is not built in, so it needs timeZone and gateClosure`),
      );
  }
  return new MarketCalendar(problems.length === 0 ? (file.markets ?? {}) : {});
}

function checkRegexes(
  re: Record<string, string> | undefined,
  path: PathSegment[],
  loc: Locator,
  problems: RulesProblem[],
): void {
  for (const [label, pattern] of Object.entries(re ?? {})) {
    try {
      new RegExp(pattern);
    } catch (err) {
      problems.push(loc.at([...path, label], `${label}: invalid regular expression: ${(err as Error).message}`));
    }
  }
}

function checkRoute(
  route: RouteSpec,
  path: PathSegment[],
  receivers: Set<string>,
  loc: Locator,
  problems: RulesProblem[],
  root: boolean,
): void {
  if (root && route.receiver === undefined)
    problems.push(loc.at(path, 'the root route needs a receiver (the default for unmatched alerts)'));
  if (route.receiver !== undefined && !receivers.has(route.receiver)) {
    const known = [...receivers].join(', ') || 'none defined';
    problems.push(
      loc.at([...path, 'receiver'], `receiver: unknown receiver "${route.receiver}" (receivers: ${known})`),
    );
  }
  checkRegexes(route.matchRe, [...path, 'matchRe'], loc, problems);
  (route.routes ?? []).forEach((child, i) =>
    checkRoute(child, [...path, 'routes', i], receivers, loc, problems, false),
  );
}

function checkRule(rule: RuleSpec, i: number, loc: Locator, problems: RulesProblem[], calendar: MarketCalendar): void {
  const at = (key: string, message: string) => problems.push(loc.at(['rules', i, key], `${key}: ${message}`));
  for (const key of ['for', 'repeatInterval', 'after', 'window', 'per', 'lead'] as const) {
    const v = (rule as unknown as Record<string, unknown>)[key];
    if (typeof v === 'string' && parseDuration(v) === undefined) at(key, `"${v}" is not a duration (e.g. 30s, 5m, 1h)`);
  }
  switch (rule.kind) {
    case 'threshold':
      if (rule.above === undefined && rule.below === undefined)
        problems.push(loc.at(['rules', i], 'a threshold rule needs `above`, `below` or both'));
      if (rule.above !== undefined && rule.below !== undefined && rule.below > rule.above)
        at('below', `${rule.below} is above \`above\` (${rule.above}); the rule could never be quiet`);
      break;
    case 'publication-late':
    case 'gate-closure':
      rule.areas.forEach((area, j) => {
        if (calendar.marketOf(area) === undefined)
          problems.push(
            loc.at(
              ['rules', i, 'areas', j],
              `areas: "${area}" is not in the market calendar; add it under markets.<MARKET>.areas`,
            ),
          );
      });
      break;
    case 'forecast-band':
      if ((rule.lower ?? 0.1) >= (rule.upper ?? 0.9)) at('lower', 'must be below `upper`');
      break;
    case 'device-limits':
      if (!rule.soc && !rule.power)
        problems.push(loc.at(['rules', i], 'a device-limits rule needs `soc`, `power` or both'));
      if (rule.soc && rule.soc.min === undefined && rule.soc.max === undefined) at('soc', 'needs `min`, `max` or both');
      if (rule.power && rule.power.rating === undefined && rule.power.ratings === undefined)
        at('power', 'needs `rating` or `ratings`');
      break;
    default:
      break;
  }
}
