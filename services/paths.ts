import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this module whose package.json declares workspaces. */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && 'workspaces' in JSON.parse(readFileSync(pkg, 'utf8'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no workspace root above ${from}`);
    dir = parent;
  }
}

/** Where services keep data, logs, pid files and the download cache (OPTIBID_HOME, default <repo>/.optibid). */
export function optibidHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.OPTIBID_HOME || join(repoRoot(), '.optibid'));
}

/** The services/ folder of the repository (holds install.sh and the Kafka pom). */
export function servicesDir(): string {
  return join(repoRoot(), 'services');
}
