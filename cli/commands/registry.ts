import { Option, type Command } from 'commander';
import { OptiBidError, endpointsFromEnv } from '@optibid/runtime';
import { KafkaStore, MemoryStore, startRegistry, type RegistryStore } from '@optibid/schemas';

interface RegistryOptions {
  host: string;
  port: string;
  store: 'kafka' | 'memory';
  topic: string;
  brokers?: string;
}

/** `optibid registry`: runs the Confluent-compatible schema registry until SIGINT/SIGTERM. */
export function registerRegistry(program: Command): void {
  program
    .command('registry')
    .description('Run the Confluent-compatible schema registry (REST API of Confluent Schema Registry, Avro only)')
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on', '8081')
    .addOption(
      new Option(
        '--store <kind>',
        'where schemas live: kafka (compacted topic, survives restarts) or memory (lost on exit)',
      )
        .choices(['kafka', 'memory'])
        .default('kafka'),
    )
    .option('--topic <name>', 'Kafka topic of the schema log (--store kafka)', '_schemas')
    .option(
      '--brokers <list>',
      'Kafka bootstrap servers, comma-separated (default: OPTIBID_KAFKA_BROKERS or 127.0.0.1:9092)',
    )
    .addHelpText(
      'after',
      `
Endpoints: /subjects, /subjects/{s}/versions[/{v|latest}[/schema]], POST /subjects/{s}, DELETE of subjects and
versions (?permanent=true after a soft delete), /schemas/ids/{id}[/schema|/subjects|/versions],
POST /compatibility/subjects/{s}/versions[/{v|latest}][?verbose=true], /config[/{s}], /mode[/{s}].
Two instances on the same --topic agree on ids: the order of the Kafka log decides them.`,
    )
    .action(async (opts: RegistryOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new OptiBidError('OPTIBID_ERR_USAGE', `--port must be a port number, got ${opts.port}`);
      const brokers = opts.brokers
        ? opts.brokers
            .split(',')
            .map((b) => b.trim())
            .filter(Boolean)
        : endpointsFromEnv().kafkaBrokers;
      const store: RegistryStore =
        opts.store === 'memory' ? new MemoryStore() : new KafkaStore({ brokers, topic: opts.topic });
      let started;
      try {
        started = await startRegistry(store, { host: opts.host, port });
      } catch (err) {
        await store.close().catch(() => undefined);
        throw new OptiBidError(
          'OPTIBID_ERR_SERVICE_START',
          `schema registry failed to start (${store.description}): ${(err as Error).message}`,
          { cause: err },
        );
      }
      console.log(`schema registry listening on ${started.url} (store: ${store.description})`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await started.app.close();
      console.log('schema registry stopped');
    });
}
