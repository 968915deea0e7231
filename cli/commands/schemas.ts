import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { OptiBidError, endpointsFromEnv } from '@optibid/runtime';
import {
  checkSchemas,
  compatibilityLevels,
  formatReports,
  gitBaseline,
  readLocalSchemas,
  registerSchemas,
  registryBaseline,
  type CompatibilityLevel,
} from '@optibid/schemas';

/** `optibid schemas check|register`: the evolution gate for schemas/avro and a way to publish it. */
export function registerSchemasCommand(program: Command): void {
  const schemas = program
    .command('schemas')
    .description(
      'Check the Avro topic schemas in schemas/avro for compatible evolution, or register them with a registry',
    );

  schemas
    .command('check')
    .description(
      "Compare every schema in schemas/avro with the latest registered version (--registry) or with the previous git commit, under the subject's compatibility level; explain each incompatible field; exit 1 when any is incompatible",
    )
    .option('--registry <url>', 'schema registry to compare with (its latest versions and per-subject levels)')
    .option(
      '--against <git-ref>',
      'without --registry: git revision to compare with (default: HEAD when schemas/avro has uncommitted changes, else HEAD~1; on the first commit every schema is new); a revision not in this clone is an error',
    )
    .addOption(
      new Option('--level <level>', 'without --registry: compatibility level to check under')
        .choices([...compatibilityLevels])
        .default('BACKWARD'),
    )
    .option(
      '--schemas-dir <dir>',
      "folder of the .avsc files (<subject>.avsc) to check (default: the repository's schemas/avro)",
    )
    .option('--json', 'print the reports as JSON')
    .action(
      async (opts: {
        registry?: string;
        against?: string;
        level: CompatibilityLevel;
        schemasDir?: string;
        json?: boolean;
      }) => {
        if (opts.registry && opts.against)
          throw new OptiBidError(
            'OPTIBID_ERR_USAGE',
            '--against compares with git; it cannot be combined with --registry',
          );
        const dir = opts.schemasDir === undefined ? undefined : resolve(opts.schemasDir);
        if (dir !== undefined && !existsSync(dir))
          throw new OptiBidError('OPTIBID_ERR_USAGE', `--schemas-dir ${opts.schemasDir}: no such folder`);
        const baseline = opts.registry
          ? registryBaseline(opts.registry)
          : gitBaseline({ ref: opts.against, level: opts.level, dir });
        const local = readLocalSchemas(dir);
        if (local.length === 0)
          throw new OptiBidError('OPTIBID_ERR_CONFIG', `no .avsc files in ${dir ?? 'schemas/avro'}`);
        const reports = await checkSchemas(baseline, local);
        const [text, ok] = formatReports(reports, baseline);
        console.log(opts.json ? JSON.stringify(reports, null, 2) : text);
        process.exitCode = ok ? 0 : 1;
      },
    );

  schemas
    .command('register')
    .description('Register every schema in schemas/avro under its subject (<topic>-value, <topic>-key); prints the ids')
    .option('--registry <url>', 'schema registry URL (default: OPTIBID_REGISTRY_URL or http://127.0.0.1:8081)')
    .action(async (opts: { registry?: string }) => {
      const url = opts.registry ?? endpointsFromEnv().registryUrl;
      const local = readLocalSchemas();
      if (local.length === 0) throw new OptiBidError('OPTIBID_ERR_CONFIG', 'no .avsc files in schemas/avro');
      const ids = await registerSchemas(url, local);
      for (const [subject, id] of ids) console.log(`${String(id).padStart(6)}  ${subject}`);
    });
}
