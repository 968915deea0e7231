#!/usr/bin/env node
// Entry point of the `optibid` command; the TypeScript sources are compiled to ../dist by `npm run build`.
import { main } from '../dist/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
