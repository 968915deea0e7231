import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRulesFile, parseRules, RulesFileError } from './rules-file.js';

function problemsOf(text: string): string[] {
  try {
    parseRules(text, 'rules.yaml');
  } catch (err) {
    if (err instanceof RulesFileError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected the rules to be rejected');
}

describe('rules file validation', () => {
  test('the example desk rules load with every rule kind', () => {
    const rules = loadRulesFile(new URL('./examples/desk-alerts.yaml', import.meta.url).pathname);
    expect(new Set(rules.rules.map((r) => r.kind))).toEqual(
      new Set([
        'absence',
        'device-limits',
        'threshold',
        'rate-of-change',
        'anomaly',
        'price-limits',
        'publication-late',
        'gate-closure',
        'forecast-band',
      ]),
    );
    expect(rules.receivers.map((r) => r.channel)).toEqual(['webhook', 'slack', 'mqtt-publish', 'kafka-alerts']);
  });

  test('an unknown key is reported at the key with line and column', () => {
    const text = [
      'rules:',
      '  - name: hot',
      '    kind: threshold',
      '    topic: telemetry.readings',
      '    field: value',
      '    above: 10',
      '    abve: 12',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual(['rules.yaml:7:5 unknown key "abve"']);
  });

  test('an unknown rule kind lists the valid kinds', () => {
    const [p] = problemsOf('rules:\n  - name: x\n    kind: treshold\n');
    expect(p).toMatch(
      /^rules\.yaml:3:11 kind: unknown rule kind "treshold"; expected one of threshold, rate-of-change/,
    );
  });

  test('a bad duration, a missing key and a literal out of its set are each located', () => {
    const text = [
      'rules:',
      '  - name: offline',
      '    kind: absence',
      '    topic: telemetry.readings',
      '    after: 5 minutes',
      '  - name: hot',
      '    kind: threshold',
      '    topic: t',
      '    above: 3',
      '  - name: roc',
      '    kind: rate-of-change',
      '    topic: t',
      '    field: v',
      '    maxChange: 2',
      '    direction: sideways',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'rules.yaml:5:12 after: "5 minutes" is not a duration (e.g. 30s, 5m, 1h)',
      'rules.yaml:6:5 missing required key "field"',
      'rules.yaml:15:16 direction: must be one of up, down, both',
    ]);
  });

  test('semantic checks: duplicate names, unknown areas, threshold without bounds, unknown receivers, silences ending before they start', () => {
    const text = [
      'rules:',
      '  - { name: a, kind: threshold, topic: t, field: v }',
      '  - { name: a, kind: gate-closure, areas: [BE, XX], lead: 1h }',
      'receivers:',
      '  - { name: hook, channel: webhook }',
      'route:',
      '  receiver: hook',
      '  routes:',
      '    - { match: { severity: critical }, receiver: pager }',
      'silences:',
      '  - { startsAt: "2026-03-02T00:00:00Z", endsAt: "2026-03-01T00:00:00Z" }',
      '',
    ].join('\n');
    const problems = problemsOf(text);
    expect(problems).toContain('rules.yaml:2:5 a threshold rule needs `above`, `below` or both');
    expect(problems).toContain('rules.yaml:3:13 name: rule "a" is already defined (rule 1)');
    expect(problems).toContain(
      'rules.yaml:3:48 areas: "XX" is not in the market calendar; add it under markets.<MARKET>.areas',
    );
    expect(problems).toContain('rules.yaml:9:50 receiver: unknown receiver "pager" (receivers: hook)');
    expect(problems).toContain('rules.yaml:11:49 endsAt: must be after startsAt');
  });

  test('a channel kind outside the delivery channels is rejected', () => {
    expect(problemsOf('rules: []\nreceivers:\n  - name: p\n    channel: pager\n')).toEqual([
      'rules.yaml:4:14 channel: must be one of webhook, slack, email, mqtt-publish, kafka-alerts',
    ]);
  });

  test('YAML syntax errors and duplicate keys carry their position', () => {
    expect(problemsOf('rules:\n  - name: a\n   kind: x\n')[0]).toMatch(/^rules\.yaml:3:\d+ YAML: /);
    expect(problemsOf('rules: []\nrules: []\n')[0]).toMatch(/^rules\.yaml:2:1 YAML: Map keys must be unique/);
  });

  test('unknown time zones and new markets without a zone are rejected', () => {
    const text = 'markets:\n  EPEX: { timeZone: Europe/Pariss }\n  APX: { gateClosure: "11:00" }\nrules: []\n';
    expect(problemsOf(text)).toEqual([
      'rules.yaml:2:21 timeZone: unknown time zone "Europe/Pariss"',
      'rules.yaml:3:8 market "APX" is not built in, so it needs timeZone and gateClosure',
    ]);
  });

  test('loadRulesFile names the file in errors and reports unreadable files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'rules:\n  - name: Bad Name\n    kind: absence\n    topic: t\n    after: 1m\n');
    expect(() => loadRulesFile(file)).toThrow(new RegExp(`^${file}:2:11 name: expected string to match`));
    expect(() => loadRulesFile(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml:1:1 cannot read rules file/);
  });
});
