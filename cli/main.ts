import { run } from './program.js';

/** Entry used by bin/optibid.js. */
export async function main(argv: string[]): Promise<number> {
  return run(argv);
}
