import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mqttConnack } from './probe.js';
import type { ServiceDefinition } from './service.js';

const binary = () => ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

export const mosquittoService: ServiceDefinition = {
  name: 'mosquitto',
  title: 'Mosquitto (MQTT)',
  host: '127.0.0.1',
  port: 1883,
  startTimeoutMs: 20_000,
  installed: () => binary() !== undefined,
  async prepare(ctx) {
    const data = join(ctx.dir, 'data');
    mkdirSync(data, { recursive: true });
    const lines = [
      `listener ${this.port} ${this.host}`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${data}/`,
      'autosave_interval 1',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'max_queued_messages 100000',
    ];
    if (process.getuid?.() === 0) lines.push('user root');
    writeFileSync(join(ctx.dir, 'mosquitto.conf'), lines.join('\n') + '\n');
  },
  launch(ctx) {
    return { command: binary()!, args: ['-c', join(ctx.dir, 'mosquitto.conf')], cwd: ctx.dir };
  },
  ready() {
    return mqttConnack(this.host, this.port);
  },
  async version() {
    const out = spawnSync(binary() ?? 'mosquitto', ['-h'], { encoding: 'utf8' });
    const m = /mosquitto version (\S+)/.exec(`${out.stdout}${out.stderr}`);
    return m ? m[1]! : 'unknown';
  },
};
