import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRulesFile } from '@optibid/processors/alerting/rules-file.js';
import { formatIssue, loadPipelineFile } from './loader.js';
import { runPipelineTests } from './test-runner.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every pipeline file shipped in pipelines/ (examples users start from); alerts/ holds their alert rules files. */
function pipelineFiles(dir = here): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory())
      return ['node_modules', 'dist', 'fixtures', 'alerts'].includes(e.name) ? [] : pipelineFiles(join(dir, e.name));
    return /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [];
  });
}

const rulesFiles = readdirSync(join(here, 'alerts')).filter((f) => /\.ya?ml$/.test(f));

describe('pipelines/*.yaml', () => {
  const files = pipelineFiles();

  it('finds the shipped pipeline files', () => {
    expect(files.map((f) => f.slice(here.length + 1))).toEqual(
      expect.arrayContaining(['demo.yaml', 'entsoe-prices.yaml', 'battery-telemetry.yaml']),
    );
  });

  it.each(rulesFiles)('alerts/%s is a valid alert rules file', (name) => {
    expect(loadRulesFile(join(here, 'alerts', name)).rules.length).toBeGreaterThan(0);
  });

  it.each(files.map((f) => [f.slice(here.length + 1), f]))('%s validates and its tests pass', async (_name, file) => {
    // A clean environment: connector secrets (`${OPTIBID_WEBHOOK_SECRET}`) are deferred to run time, as `pipeline test` does.
    const loaded = loadPipelineFile(file, { env: {}, connectorEnv: 'defer' });
    if (!loaded.ok) throw new Error(loaded.issues.map(formatIssue).join('\n'));
    const outcomes = await runPipelineTests(loaded.pipeline);
    const failed = outcomes.filter((o) => !o.passed).map((o) => `${o.name}: ${o.failures.join('; ')}`);
    expect(failed).toEqual([]);
    expect(outcomes.length).toBe(loaded.pipeline.tests.length);
  });
});
