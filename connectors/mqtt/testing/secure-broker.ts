import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestPki } from './pki.js';

/** The broker binary the services installer puts on the machine (as services/mosquitto.ts finds it). */
export const mosquittoBinary = (): string | undefined =>
  ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

/** A port nobody listens on right now (the kernel picks it; the broker binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A short-lived Mosquitto of one test file: TLS with passwords, and TLS with client certificates. */
export interface SecureBroker {
  /** mqtts:// listener: server certificate from the test CA, username and password required. */
  tlsPort: number;
  /** mqtts:// listener that requires a client certificate from the test CA (its CN is the username). */
  mtlsPort: number;
  /** Everything the broker printed so far. */
  log(): string;
  /** Resolves once `text` appears `times` times in the broker's log (default once); rejects after `timeoutMs`. */
  waitForLog(text: string, times?: number, timeoutMs?: number): Promise<void>;
  /** SIGHUP: the broker reloads its config and password file (it logs "Reloading config"). */
  reload(): void;
  stop(): Promise<void>;
}

/**
 * Starts a private Mosquitto on two free loopback ports with `allow_anonymous false`, the given password
 * file (and ACL file, if any) and the test PKI. Resolves once the broker says it is running (listeners
 * open); rejects with its output if it exits first. Ports are picked free just before the start, so a
 * lost race (the port taken in between) starts again on new ones.
 */
export async function startSecureBroker(
  dir: string,
  passwordFile: string,
  pki: TestPki,
  opts: { aclFile?: string } = {},
): Promise<SecureBroker> {
  const binary = mosquittoBinary();
  if (!binary) throw new Error('mosquitto is not installed (npx optibid services install mosquitto)');
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const tlsPort = await freePort();
    const mtlsPort = await freePort();
    if (tlsPort === mtlsPort) continue;
    const tlsFiles = [`cafile ${pki.caFile}`, `certfile ${pki.serverCertFile}`, `keyfile ${pki.serverKeyFile}`];
    const lines = [
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwordFile}`,
      ...(opts.aclFile ? [`acl_file ${opts.aclFile}`] : []),
      'persistence false',
      'log_dest stderr', // unbuffered: stdout is block-buffered into a pipe
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${tlsPort} 127.0.0.1`,
      ...tlsFiles,
      `listener ${mtlsPort} 127.0.0.1`,
      ...tlsFiles,
      'require_certificate true',
      'use_identity_as_username true',
    ];
    const conf = join(dir, `mosquitto-${attempt}.conf`);
    writeFileSync(conf, lines.join('\n') + '\n');
    const child = spawn(binary, ['-c', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      return await running(child, tlsPort, mtlsPort);
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) throw err;
    }
  }
  throw lastError ?? new Error('mosquitto: no free ports');
}

function running(child: ChildProcess, tlsPort: number, mtlsPort: number): Promise<SecureBroker> {
  let output = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of [...watchers]) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const occurrences = (text: string) => output.split(text).length - 1;
  const waitForLog = (text: string, times = 1, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (occurrences(text) >= times) return resolve();
      const what = `"${text}"${times > 1 ? ` ${times} times` : ''}`;
      const done = (err?: Error) => {
        clearTimeout(timer);
        watchers.delete(check);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const check = () => occurrences(text) >= times && done();
      const onExit = () => done(new Error(`mosquitto exited before logging ${what}:\n${output}`));
      const timer = setTimeout(
        () => done(new Error(`mosquitto did not log ${what} within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      watchers.add(check);
      child.once('exit', onExit);
    });

  const broker: SecureBroker = {
    tlsPort,
    mtlsPort,
    log: () => output,
    waitForLog,
    reload: () => void child.kill('SIGHUP'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
  return waitForLog(' running\n').then(
    () => broker,
    async (err: Error) => {
      await broker.stop();
      throw err;
    },
  );
}
