import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { OptiBidError } from '@optibid/runtime';
import { optibidHome, servicesDir } from './paths.js';
import { tcpOpen, waitFor } from './probe.js';
import type { ServiceContext, ServiceDefinition } from './service.js';

export interface ManagerOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress output (default: stderr). */
  say?: (message: string) => void;
}

export type StartOutcome = 'started' | 'already-running' | 'external';

export interface ServiceStatus {
  name: string;
  title: string;
  address: string;
  up: boolean;
  version: string;
  /** Pid of the process we started, when we started it and it is alive. */
  pid?: number;
}

/** Starts, stops and reports the local services. State lives under OPTIBID_HOME (run/*.pid, logs/*.log). */
export class ServiceManager {
  readonly home: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly say: (message: string) => void;

  constructor(
    readonly services: ServiceDefinition[],
    opts: ManagerOptions = {},
  ) {
    this.env = opts.env ?? process.env;
    this.home = optibidHome(this.env);
    this.say = opts.say ?? ((m) => process.stderr.write(`${m}\n`));
  }

  /** Services named in `names` (all when empty); unknown names are an error. */
  select(names: string[]): ServiceDefinition[] {
    if (names.length === 0) return this.services;
    const unknown = names.filter((n) => !this.services.some((s) => s.name === n));
    if (unknown.length > 0) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `unknown service ${unknown.join(', ')}; known: ${this.services.map((s) => s.name).join(', ')}`,
      );
    }
    return this.services.filter((s) => names.includes(s.name));
  }

  context(service: ServiceDefinition): ServiceContext {
    return {
      home: this.home,
      dir: join(this.home, service.name),
      logFile: join(this.home, 'logs', `${service.name}.log`),
      env: this.env,
      say: this.say,
    };
  }

  private pidFile(service: ServiceDefinition): string {
    return join(this.home, 'run', `${service.name}.pid`);
  }

  /** The pid we recorded for a service, if that process is still alive. */
  runningPid(service: ServiceDefinition): number | undefined {
    const file = this.pidFile(service);
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** Installs what is missing (services/install.sh NAME); output goes to the progress stream. */
  install(service: ServiceDefinition): void {
    const ctx = this.context(service);
    if (service.installed(ctx)) return;
    this.say(`${service.name}: installing (first use; cached afterwards)`);
    const res = spawnSync('bash', [join(servicesDir(), 'install.sh'), service.name], {
      env: { ...this.env, OPTIBID_HOME: this.home },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.status !== 0 || !service.installed(ctx)) {
      throw new OptiBidError(
        'OPTIBID_ERR_SERVICE_INSTALL',
        `installing ${service.name} failed (services/install.sh ${service.name})`,
        {
          context: { service: service.name },
        },
      );
    }
  }

  /** Starts one service unless it already runs; waits until it serves requests. */
  async start(service: ServiceDefinition): Promise<StartOutcome> {
    const ctx = this.context(service);
    const ours = this.runningPid(service);
    if (ours !== undefined && (await service.ready(ctx).catch(() => false))) return 'already-running';
    if (ours === undefined && (await tcpOpen(service.host, service.port))) {
      if (await service.ready(ctx).catch(() => false)) {
        if (!(await service.freePort?.(ctx))) {
          this.say(
            `${service.name}: ${service.host}:${service.port} is served by a process OptiBid did not start; using it`,
          );
          return 'external';
        }
      } else if (!(await service.freePort?.(ctx))) {
        throw new OptiBidError(
          'OPTIBID_ERR_SERVICE_START',
          `${service.name}: port ${service.port} is taken by another program`,
          {
            context: { service: service.name },
          },
        );
      }
    }
    this.install(service);
    mkdirSync(ctx.dir, { recursive: true });
    mkdirSync(join(this.home, 'logs'), { recursive: true });
    mkdirSync(join(this.home, 'run'), { recursive: true });
    await service.prepare(ctx);
    const spec = service.launch(ctx);
    this.say(`${service.name}: starting on ${service.host}:${service.port}`);
    const logFd = openSync(ctx.logFile, 'a');
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd ?? ctx.dir,
      env: { ...this.env, ...spec.env },
      uid: spec.uid,
      gid: spec.gid,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    child.once('error', () => (exited = -1));
    child.unref();
    if (child.pid === undefined) throw this.startFailure(service, ctx, 'could not spawn the process');
    writeFileSync(this.pidFile(service), String(child.pid));
    let ok = false;
    const deadline = Date.now() + service.startTimeoutMs;
    while (exited === undefined && Date.now() < deadline) {
      if (await service.ready(ctx).catch(() => false)) {
        ok = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!ok || exited !== undefined) {
      if (exited === undefined) killTree(child.pid, 'SIGKILL');
      rmSync(this.pidFile(service), { force: true });
      throw this.startFailure(
        service,
        ctx,
        exited !== undefined ? `exited with code ${exited}` : `not ready after ${service.startTimeoutMs / 1000} s`,
      );
    }
    const serverPid = service.serverPid?.(ctx, child.pid) ?? child.pid;
    writeFileSync(this.pidFile(service), String(serverPid));
    await service.afterStart?.(ctx);
    return 'started';
  }

  private startFailure(service: ServiceDefinition, ctx: ServiceContext, why: string): OptiBidError {
    return new OptiBidError(
      'OPTIBID_ERR_SERVICE_START',
      `${service.name} failed to start: ${why}\n--- last lines of ${ctx.logFile} ---\n${tail(ctx.logFile, 40)}`,
      {
        context: { service: service.name },
      },
    );
  }

  /** Starts the named services (all when empty) in order; returns what happened to each. */
  async up(names: string[] = []): Promise<Map<string, StartOutcome>> {
    const outcomes = new Map<string, StartOutcome>();
    for (const service of this.select(names)) {
      const outcome = await this.start(service);
      outcomes.set(service.name, outcome);
      this.say(
        `${service.name}: ${outcome === 'started' ? 'started' : outcome === 'external' ? 'using the running instance' : 'already running'}`,
      );
    }
    return outcomes;
  }

  /** Stops, by process id, what `up` started; waits for each to exit. Returns the names stopped. */
  async down(names: string[] = [], timeoutMs = 30_000): Promise<string[]> {
    const stopped: string[] = [];
    for (const service of [...this.select(names)].reverse()) {
      const pid = this.runningPid(service);
      if (pid === undefined) {
        rmSync(this.pidFile(service), { force: true });
        continue;
      }
      this.say(`${service.name}: stopping pid ${pid}`);
      killTree(pid, service.stopSignal ?? 'SIGTERM');
      if (!(await waitFor(async () => !isAlive(pid), timeoutMs, 100))) {
        this.say(`${service.name}: still running after ${timeoutMs / 1000} s, killing`);
        killTree(pid, 'SIGKILL');
        await waitFor(async () => !isAlive(pid), 5000, 100);
      }
      rmSync(this.pidFile(service), { force: true });
      stopped.push(service.name);
    }
    return stopped;
  }

  async status(names: string[] = []): Promise<ServiceStatus[]> {
    return Promise.all(
      this.select(names).map(async (service) => {
        const ctx = this.context(service);
        const up = await service.ready(ctx).catch(() => false);
        const version = up
          ? await service.version(ctx).catch(() => 'unknown')
          : service.installed(ctx)
            ? 'installed'
            : 'not installed';
        return {
          name: service.name,
          title: service.title,
          address: `${service.host}:${service.port}`,
          up,
          version,
          pid: this.runningPid(service),
        };
      }),
    );
  }
}

/** One line per service: `name  host:port  up|down  version`. */
export function formatStatus(rows: ServiceStatus[]): string {
  const w = (f: (r: ServiceStatus) => string) => Math.max(...rows.map((r) => f(r).length));
  const nameW = w((r) => r.name);
  const addrW = w((r) => r.address);
  return rows
    .map(
      (r) => `${r.name.padEnd(nameW)}  ${r.address.padEnd(addrW)}  ${(r.up ? 'up' : 'down').padEnd(4)}  ${r.version}`,
    )
    .join('\n');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Signals the process group when the process leads one (we start services detached), else the process. */
function killTree(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** The last `lines` lines of a file, or a note that it is missing. */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log file)';
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
