import type { SpawnOptions } from 'node:child_process';

/** What a service needs to know about where it runs. */
export interface ServiceContext {
  /** OPTIBID_HOME: data, logs and pid files live below it. */
  home: string;
  /** Folder of this service's data and config: <home>/<name>. */
  dir: string;
  /** The service's log file: <home>/logs/<name>.log. */
  logFile: string;
  env: NodeJS.ProcessEnv;
  /** Progress messages for the user (stderr). */
  say(message: string): void;
}

/** How to launch a service's long-running process. */
export interface LaunchSpec {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/**
 * A local service that `optibid services up` installs and starts. Lifecycle: `installed` →
 * (install.sh NAME) → `prepare` (config files, first-time init) → `launch` (detached, pid kept)
 * → `ready` polled until `startTimeoutMs` → `afterStart` (databases, extensions).
 */
export interface ServiceDefinition {
  name: string;
  /** Shown in status lines. */
  title: string;
  host: string;
  port: number;
  startTimeoutMs: number;
  /** True when the software is on the machine (no install needed). */
  installed(ctx: ServiceContext): boolean;
  /** Writes config and initialises data folders; idempotent. */
  prepare(ctx: ServiceContext): Promise<void>;
  launch(ctx: ServiceContext): LaunchSpec;
  /** Speaks the service's protocol: true when it serves requests. */
  ready(ctx: ServiceContext): Promise<boolean>;
  /** The version the running service reports, or what is installed. */
  version(ctx: ServiceContext): Promise<string>;
  afterStart?(ctx: ServiceContext): Promise<void>;
  /** Pid of the real server when it differs from the launched process (e.g. read from a pid file). */
  serverPid?(ctx: ServiceContext, launchedPid: number): number;
  /** Signal that stops it cleanly (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
  /** Called when the port is held by a process we did not start; may move it aside and return true. */
  freePort?(ctx: ServiceContext): Promise<boolean>;
}

export type { SpawnOptions };
