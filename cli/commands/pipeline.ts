import type { Command } from 'commander';
import { formatIssue, loadPipelineFile, runPipelineTests } from '@optibid/pipelines';

/** `optibid pipeline validate|test`: check pipeline YAML files and run their `tests:` blocks. */
export function registerPipeline(program: Command): void {
  const pipeline = program
    .command('pipeline')
    .description('Check pipeline YAML files and run the tests they carry')
    .addHelpText(
      'after',
      '\nPipeline files: see pipelines/README.md. `${VAR}` and `${VAR:-default}` are replaced from the environment; validate and test only note an unset variable in a source or sink config (`optibid run` refuses it).',
    );

  pipeline
    .command('validate')
    .description(
      'Validate pipeline files: prints one "FILE:LINE:COL message" line per error (YAML syntax, unknown component, unknown key, wrong type against the config schema, topic without a schema, cycle) and exits 1 if any',
    )
    .argument('<files...>', 'pipeline YAML files')
    .action((files: string[]) => {
      let errors = 0;
      for (const file of files) {
        const result = loadPipelineFile(file, { connectorEnv: 'defer' });
        if (result.ok) {
          for (const note of result.pipeline.notes) console.error(`note: ${formatIssue(note)}`);
          continue;
        }
        for (const issue of result.issues) console.log(formatIssue(issue));
        errors += result.issues.length;
      }
      if (errors > 0) {
        console.error(
          `${errors} error${errors === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}`,
        );
        process.exitCode = 1;
      } else console.error(`${files.length} file${files.length === 1 ? '' : 's'} valid`);
    });

  pipeline
    .command('test')
    .description(
      "Run each file's `tests:` cases on the memory transport (inputs onto topics, processors until idle, expected records per topic); prints pass/fail per case, exits 1 on any failure or invalid file",
    )
    .argument('<files...>', 'pipeline YAML files')
    .action(async (files: string[]) => {
      let failed = 0;
      let passed = 0;
      for (const file of files) {
        // Tests never start sources and sinks, so their unset `${VAR}`s (secrets, URLs) do not matter here.
        const result = loadPipelineFile(file, { connectorEnv: 'defer' });
        if (!result.ok) {
          for (const issue of result.issues) console.log(formatIssue(issue));
          failed++;
          continue;
        }
        if (result.pipeline.tests.length === 0) console.log(`${file}: no tests`);
        for (const o of await runPipelineTests(result.pipeline)) {
          console.log(`${o.passed ? 'pass' : 'FAIL'} ${file}:${o.line}:${o.column} ${o.name}`);
          for (const f of o.failures) console.log(`     ${f}`);
          if (o.passed) passed++;
          else failed++;
        }
      }
      console.log(`${passed} passed, ${failed} failed`);
      if (failed > 0) process.exitCode = 1;
    });
}
