import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  AvroSerde,
  KafkaTransport,
  endpointsFromEnv,
  type PipelineSpec,
  type Serde,
  MemoryTransport,
  OptiBidError,
  RdkafkaTransport,
  createLogger,
  formatStatusLine,
  pipelineMetrics,
  serveMetrics,
  systemClock,
  type Transport,
} from '@optibid/runtime';
import { loadPipelineOrThrow } from '@optibid/pipelines';

interface RunOptions {
  transport: string;
  component: string[];
  untilIdle?: boolean;
  metricsPort?: string;
  statusInterval: string;
  instanceId?: string;
  logLevel: string;
  serde: string;
  stallWarnMs: string;
  sessionTimeoutMs?: string;
  maxPollIntervalMs?: string;
}

/** The value serde of the Kafka transports: JSON, or Avro with registry framing from the pipeline's topic schemas. */
function serdeFor(name: string, spec: PipelineSpec): Serde | undefined {
  if (name === 'json') return undefined;
  if (name !== 'avro') throw new OptiBidError('OPTIBID_ERR_USAGE', `unknown serde "${name}" (json, avro)`);
  const schemas = new Map<string, object>();
  for (const t of spec.topics.values())
    if (t.schemaFile) schemas.set(t.name, JSON.parse(readFileSync(t.schemaFile, 'utf8')) as object);
  return new AvroSerde({ registry: endpointsFromEnv().registryUrl, schemaFor: (topic) => schemas.get(topic) });
}

function transportFor(name: string, opts: RunOptions, spec: PipelineSpec): Transport {
  switch (name) {
    case 'memory':
      return new MemoryTransport({ retention: 'consumed' });
    case 'kafka':
      return new KafkaTransport({
        instanceId: opts.instanceId ?? process.env.OPTIBID_INSTANCE_ID,
        serde: serdeFor(opts.serde, spec),
        ...groupOptions(opts, name),
      });
    case 'rdkafka':
      return new RdkafkaTransport({
        instanceId: opts.instanceId ?? process.env.OPTIBID_INSTANCE_ID,
        serde: serdeFor(opts.serde, spec),
        ...groupOptions(opts, name),
      });
    default:
      throw new OptiBidError('OPTIBID_ERR_USAGE', `unknown transport "${name}" (memory, kafka, rdkafka)`);
  }
}

/** The transports' default consumer-group session timeout (ms), as in runtime/kafka and runtime/rdkafka. */
const defaultSessionTimeoutMs = 10_000;

/**
 * The Kafka transports' group settings from the command line: the stall check, the session timeout and (rdkafka)
 * `max.poll.interval.ms`, each checked, else a usage error naming the option. `--max-poll-interval-ms` is refused
 * below the session timeout (librdkafka would refuse the configuration) and on a transport other than rdkafka.
 */
export function groupOptions(
  opts: Pick<RunOptions, 'stallWarnMs' | 'sessionTimeoutMs' | 'maxPollIntervalMs'>,
  transport: string,
): { stallWarnMs: number; sessionTimeoutMs?: number; maxPollIntervalMs?: number } {
  const stallWarnMs = parseStallWarnMs(opts.stallWarnMs);
  const session =
    opts.sessionTimeoutMs === undefined ? undefined : parseMs('--session-timeout-ms', opts.sessionTimeoutMs);
  const maxPoll =
    opts.maxPollIntervalMs === undefined ? undefined : parseMs('--max-poll-interval-ms', opts.maxPollIntervalMs);
  if (maxPoll !== undefined) {
    if (transport !== 'rdkafka')
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `--max-poll-interval-ms applies to --transport rdkafka only (the kafka transport's member leaves its group after --session-timeout-ms without a heartbeat)`,
      );
    if (maxPoll < (session ?? defaultSessionTimeoutMs))
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `--max-poll-interval-ms (${maxPoll}) must be at least the session timeout (${session ?? defaultSessionTimeoutMs} ms)`,
      );
  }
  return {
    stallWarnMs,
    ...(session === undefined ? {} : { sessionTimeoutMs: session }),
    ...(maxPoll === undefined ? {} : { maxPollIntervalMs: maxPoll }),
  };
}

/** A positive whole number of milliseconds from `option`, else a usage error naming the option. */
function parseMs(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0)
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `${option} must be a positive whole number of milliseconds, got "${value}"`,
    );
  return n;
}

/** Seconds between status lines from `--status-interval`: a positive number, else a usage error naming the option. */
export function parseStatusInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `--status-interval must be a positive number of seconds, got "${value}"`,
    );
  }
  return n;
}

/** Milliseconds from `--stall-warn-ms`: an integer ≥ 0 (0 turns the stall check off), else a usage error naming the option. */
export function parseStallWarnMs(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `--stall-warn-ms must be a whole number of milliseconds (0 turns the check off), got "${value}"`,
    );
  }
  return n;
}

/** The port from `--metrics-port`: an integer 0–65535 (0 = any free port), else a usage error naming the option. */
export function parseMetricsPort(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', `--metrics-port must be a port number (0-65535), got "${value}"`);
  }
  return n;
}

/** `optibid run FILE`: runs a pipeline, or some of its components, on a transport. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      "Run a pipeline file (or only some of its components, to scale out: every process running a component joins its consumer group and shares its partitions). Prints a status line per component at an interval; SIGTERM/SIGINT finish the in-flight batch, commit and close. Runs node with 64 MB V8 semi-spaces (young generation; fewer GC pauses per record) unless NODE_OPTIONS or node flags set --max-semi-space-size; OPTIBID_SEMI_SPACE_MB=N sets another size, 0 keeps Node's default.",
    )
    .argument('<file>', 'pipeline YAML file')
    .option(
      '--transport <name>',
      'memory (in-process), kafka (kafkajs) or rdkafka (node-rdkafka/librdkafka); both Kafka transports run processors exactly-once in transactions',
      'memory',
    )
    .option(
      '--component <name>',
      'run only this component (repeat for several)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--until-idle',
      'exit once the inputs are drained (sources ended, consumer lag 0); the memory transport also closes open windows',
    )
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://0.0.0.0:PORT/metrics')
    .option('--status-interval <seconds>', 'seconds between status lines', '10')
    .option(
      '--instance-id <id>',
      'kafka/rdkafka: this worker\'s stable id (transactional ids derive from it; default: OPTIBID_INSTANCE_ID or "default")',
    )
    .option(
      '--serde <name>',
      'kafka/rdkafka: value encoding, json or avro (Confluent framing, schemas from the pipeline topics, registry at OPTIBID_REGISTRY_URL)',
      'json',
    )
    .option(
      '--stall-warn-ms <ms>',
      'kafka/rdkafka: warn "consumer stalled" when a processor or sink has lag but fetched nothing for this long (wall-clock ms), again every as long while it lasts; 0 turns the check off',
      '60000',
    )
    .option(
      '--session-timeout-ms <ms>',
      `kafka/rdkafka: consumer-group session timeout of processors (default ${defaultSessionTimeoutMs}); a member not heard from for this long leaves the group and its partitions move. Raise it for processors whose batches take long (the broker allows group.min.session.timeout.ms..group.max.session.timeout.ms, by default 6000..1800000)`,
    )
    .option(
      '--max-poll-interval-ms <ms>',
      "rdkafka: librdkafka's max.poll.interval.ms for processors (default 300000, at least the session timeout): a processor stuck in one batch this long leaves its group, and its transaction is fenced",
    )
    .option('--log-level <level>', 'pino log level on stderr (debug, info, warn, error)', 'info')
    .action(async (file: string, opts: RunOptions) => {
      const statusSeconds = parseStatusInterval(opts.statusInterval);
      // Checked before anything starts, whatever the transport.
      if (opts.transport === 'memory') parseStallWarnMs(opts.stallWarnMs);
      else groupOptions(opts, opts.transport);
      const metricsPort = opts.metricsPort === undefined ? undefined : parseMetricsPort(opts.metricsPort);
      const pipeline = loadPipelineOrThrow(file);
      const names = new Set(
        [...pipeline.spec.sources, ...pipeline.spec.processors, ...pipeline.spec.sinks].map((c) => c.name),
      );
      for (const c of opts.component) {
        if (!names.has(c))
          throw new OptiBidError(
            'OPTIBID_ERR_USAGE',
            `no component "${c}" in ${file} (components: ${[...names].join(', ')})`,
          );
      }
      const logger = createLogger({ level: opts.logLevel, name: pipeline.spec.name });
      const transport = transportFor(opts.transport, opts, pipeline.spec);
      const run = await transport.start(pipeline.spec, {
        untilIdle: opts.untilIdle,
        only: opts.component,
        logger,
        clock: systemClock,
      });
      const server =
        metricsPort !== undefined
          ? await serveMetrics(pipelineMetrics(pipeline.spec.name, run), metricsPort)
          : undefined;
      const printStatus = () => {
        for (const s of run.stats()) console.log(formatStatusLine(s));
      };
      const timer = setInterval(printStatus, Math.max(0.2, statusSeconds) * 1000);
      let signals = 0;
      const onSignal = (sig: string) => {
        if (signals++ > 0) process.exit(130); // a second signal: stop waiting
        logger.info({ signal: sig }, 'stopping: finishing the in-flight batch');
        void run.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        await run.done;
      } finally {
        clearInterval(timer);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        server?.close();
        printStatus();
      }
    });
}
