#!/usr/bin/env node
// Entry point of the `optibid` command; the TypeScript sources are compiled to ../dist by `npm run build`.
import { main } from '../dist/main.js';

// `optibid ... | head`: the reader went away; stop quietly instead of dying with an EPIPE stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
