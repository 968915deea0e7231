import type { Command } from 'commander';
import { ServiceManager, formatStatus, localServices } from '@optibid/services';

const names = () => `services: ${localServices.map((s) => s.name).join(', ')} (default: all)`;

/** `optibid services up|down|status`: the real local services tests and the dev loop use. */
export function registerServices(program: Command): void {
  const services = program
    .command('services')
    .description(
      'Install (first use), start, stop and inspect the local Kafka, schema registry, PostgreSQL/TimescaleDB, ClickHouse and Mosquitto',
    )
    .addHelpText(
      'after',
      `\nData, logs and pid files live under OPTIBID_HOME (default: .optibid/ at the repository root).`,
    );

  services
    .command('up')
    .description('Install on first use and start the services on 127.0.0.1; a running service is left alone')
    .argument('[names...]', names())
    .action(async (list: string[]) => {
      const manager = new ServiceManager(localServices);
      await manager.up(list);
      console.log(formatStatus(await manager.status(list)));
    });

  services
    .command('down')
    .description('Stop, by process id, the services `up` started')
    .argument('[names...]', names())
    .option('--timeout <seconds>', 'seconds to wait for a clean exit before SIGKILL', '30')
    .action(async (list: string[], opts: { timeout: string }) => {
      const manager = new ServiceManager(localServices);
      const stopped = await manager.down(list, Number(opts.timeout) * 1000);
      console.log(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing to stop');
    });

  services
    .command('status')
    .description('One line per service: name, host:port, up|down, version; exits 0 only when all are up')
    .argument('[names...]', names())
    .option('--json', 'print JSON instead of lines')
    .action(async (list: string[], opts: { json?: boolean }) => {
      const rows = await new ServiceManager(localServices).status(list);
      console.log(opts.json ? JSON.stringify(rows, null, 2) : formatStatus(rows));
      process.exitCode = rows.every((r) => r.up) ? 0 : 1;
    });
}
