import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceManager, formatStatus, isAlive } from './manager.js';
import { tcpOpen } from './probe.js';
import type { ServiceDefinition } from './service.js';
import { isOptiBidError } from '@optibid/runtime';

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A real process: a node HTTP server on `port` answering a per-service token (so a probe cannot mistake
 * another program that later takes the freed port for it), or a script that logs and exits when `crash` is set.
 */
function fakeService(port: number, opts: { crash?: boolean; name?: string } = {}): ServiceDefinition {
  const token = `fake-${process.pid}-${port}-${Math.random().toString(36).slice(2)}`;
  const script = opts.crash
    ? "console.log('config error: port must be set'); process.exit(3)"
    : `require('http').createServer((q, r) => r.end('${token}')).listen(${port}, '127.0.0.1', () => console.log('listening'))`;
  return {
    name: opts.name ?? 'fake',
    title: 'Fake service',
    host: '127.0.0.1',
    port,
    startTimeoutMs: 10_000,
    installed: () => true,
    prepare: async () => {},
    launch: () => ({ command: process.execPath, args: ['-e', script] }),
    ready: async () => {
      if (!(await tcpOpen('127.0.0.1', port, 300))) return false;
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      return (await res.text()) === token;
    },
    version: async () => '1.2.3',
  };
}

describe('ServiceManager', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'optibid-services-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const manager = (services: ServiceDefinition[]) =>
    new ServiceManager(services, { env: { OPTIBID_HOME: home }, say: () => {} });

  it('starts a service, leaves it alone on a second up, and stops it by pid', async () => {
    const svc = fakeService(await freePort());
    const m = manager([svc]);
    expect((await m.up()).get('fake')).toBe('started');
    const pid = m.runningPid(svc)!;
    expect(isAlive(pid)).toBe(true);
    expect(readFileSync(join(home, 'logs', 'fake.log'), 'utf8')).toContain('listening');

    expect((await m.up()).get('fake')).toBe('already-running');
    expect(m.runningPid(svc)).toBe(pid);

    const [status] = await m.status();
    expect(status).toMatchObject({ name: 'fake', up: true, version: '1.2.3', pid });

    expect(await m.down()).toEqual(['fake']);
    expect(isAlive(pid)).toBe(false);
    expect(m.runningPid(svc)).toBeUndefined();
    expect((await m.status())[0]!.up).toBe(false);
  });

  it('reports a failed start with the tail of the service log', async () => {
    const m = manager([fakeService(await freePort(), { crash: true })]);
    let caught: unknown;
    try {
      await m.up();
    } catch (err) {
      caught = err;
    }
    expect(isOptiBidError(caught, 'OPTIBID_ERR_SERVICE_START')).toBe(true);
    expect((caught as Error).message).toMatch(/exited with code 3/);
    expect((caught as Error).message).toContain('config error: port must be set');
  });

  it('rejects unknown service names', async () => {
    const m = manager([fakeService(1)]);
    await expect(m.up(['nope'])).rejects.toThrow(/unknown service nope; known: fake/);
  });

  it('formats one aligned line per service', () => {
    const text = formatStatus([
      { name: 'kafka', title: '', address: '127.0.0.1:9092', up: true, version: '4.1.1' },
      { name: 'mosquitto', title: '', address: '127.0.0.1:1883', up: false, version: 'installed' },
    ]);
    expect(text.split('\n')).toEqual([
      'kafka      127.0.0.1:9092  up    4.1.1',
      'mosquitto  127.0.0.1:1883  down  installed',
    ]);
  });
});
