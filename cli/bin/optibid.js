#!/usr/bin/env node
// Entry point of the `optibid` command; the TypeScript sources are compiled to ../dist by `npm run build`.
import { spawn } from 'node:child_process';

/**
 * `optibid run` is a stream worker that allocates short-lived objects for every record (fetched
 * messages, decoded values, window entries, encoded outputs). With Node's default 16 MB semi-spaces the
 * young generation fills every few thousand records and each scavenge copies the in-flight batch again;
 * 64 MB semi-spaces cut the scavenges by 2-3x (bench/pipeline.ts measures it side by side). V8 reads the
 * size only at start-up (`v8.setFlagsFromString` later has no effect), so `run` re-executes itself once
 * with the flag. NODE_OPTIONS or node flags that set `--max-semi-space-size` win;
 * OPTIBID_SEMI_SPACE_MB=N picks another size and 0 keeps Node's default (no re-exec).
 */
const defaultSemiSpaceMb = 64;

function semiSpaceFlag() {
  if (process.argv[2] !== 'run') return undefined;
  const mb =
    process.env.OPTIBID_SEMI_SPACE_MB === undefined ? defaultSemiSpaceMb : Number(process.env.OPTIBID_SEMI_SPACE_MB);
  if (!Number.isFinite(mb) || mb <= 0) return undefined;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((f) => f.startsWith('--max-semi-space-size'))) return undefined;
  return `--max-semi-space-size=${Math.round(mb)}`;
}

/**
 * Runs this command again in a child node with `flag` and mirrors it: signals are forwarded (the child
 * has its own process group, so a terminal's Ctrl-C reaches it once, through here), its exit code or
 * signal becomes ours, and if this process dies without forwarding (SIGKILL) the child kills itself at
 * once, so a killed worker is really gone as with a plain `node` process.
 */
function reexec(flag) {
  const child = spawn(process.execPath, [...process.execArgv, flag, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, OPTIBID_REEXEC_PARENT: String(process.pid) },
  });
  const forward = (sig) => () => child.kill(sig);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, forward(sig));
  child.on('error', (err) => {
    console.error(`optibid: could not start node: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

const flag = semiSpaceFlag();
if (flag) reexec(flag);
else {
  if (process.env.OPTIBID_REEXEC_PARENT && process.channel) {
    // Started by reexec(): leave with the parent. The channel must not keep this process alive by itself.
    process.channel.unref();
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  }

  // `optibid ... | head`: the reader went away; stop quietly instead of dying with an EPIPE stack trace.
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });

  const { main } = await import('../dist/main.js');
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
