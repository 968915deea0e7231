import { readdirSync } from 'node:fs';
import { dirname, basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run bench [-- NAME...]`: runs every benchmark module in bench/ (each exports `async run()`),
 * or only the named ones. Benchmarks report side-by-side ratios measured in the same run; they are
 * never part of the pass/fail test suite.
 */
async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log('usage: npm run bench [-- NAME...]   (NAME: a file in bench/ without extension)');
    return;
  }
  const all = readdirSync(here)
    .filter((f) => f.endsWith('.js') && f !== 'run.js' && f !== 'index.js' && !f.endsWith('.test.js'))
    .map((f) => basename(f, '.js'))
    .sort();
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; available: ${all.join(', ')}`);
    process.exitCode = 1;
    return;
  }
  for (const name of wanted.length ? wanted : all) {
    const mod = (await import(pathToFileURL(`${here}/${name}.js`).href)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') continue;
    console.log(`\n=== bench ${name} ===`);
    const started = Date.now();
    await mod.run();
    console.log(`=== ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  }
}

await main();
