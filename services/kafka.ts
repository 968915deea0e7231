import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { OptiBidError } from '@optibid/runtime';
import type { ServiceContext, ServiceDefinition } from './service.js';

const kafkaVersion = (env: NodeJS.ProcessEnv) => env.OPTIBID_KAFKA_VERSION || '4.1.1';
const libsDir = (ctx: ServiceContext) => join(ctx.home, 'cache', `kafka-${kafkaVersion(ctx.env)}`, 'libs');

/** A Kafka cluster id: 16 random bytes, base64url without padding (what kafka-storage random-uuid prints). */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** server.properties for a single-node KRaft broker+controller. */
export function serverProperties(opts: {
  host: string;
  port: number;
  controllerPort: number;
  dataDir: string;
}): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${opts.host}:${opts.controllerPort}`,
    `listeners=PLAINTEXT://${opts.host}:${opts.port},CONTROLLER://${opts.host}:${opts.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${opts.host}:${opts.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${opts.dataDir}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    // No time retention: replays and backfills carry event-time timestamps years old (fixtures from 2015-2018, the
    // bench's from 1970), and time retention deletes a segment whose newest record is older than the limit at the
    // next 5-minute check, open transactions included. Each partition is capped by size instead.
    'log.retention.ms=-1',
    'log.retention.bytes=1073741824',
    '',
  ].join('\n');
}

const log4j2 = [
  'status = warn',
  'appender.console.type = Console',
  'appender.console.name = STDOUT',
  'appender.console.layout.type = PatternLayout',
  'appender.console.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.stdout.ref = STDOUT',
  'logger.kafka.name = kafka',
  'logger.kafka.level = warn',
  'logger.state.name = state.change.logger',
  'logger.state.level = warn',
  'logger.raft.name = org.apache.kafka.raft',
  'logger.raft.level = warn',
  '',
].join('\n');

export const kafkaService: ServiceDefinition = {
  name: 'kafka',
  title: 'Apache Kafka (KRaft)',
  host: '127.0.0.1',
  port: 9092,
  startTimeoutMs: 90_000,
  installed: (ctx) => existsSync(join(libsDir(ctx), '.complete')),
  async prepare(ctx) {
    const dataDir = join(ctx.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const props = join(ctx.dir, 'server.properties');
    writeFileSync(props, serverProperties({ host: this.host, port: this.port, controllerPort: 9093, dataDir }));
    writeFileSync(join(ctx.dir, 'log4j2.properties'), log4j2);
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      ctx.say('kafka: formatting KRaft storage');
      const res = spawnSync(
        'java',
        ['-cp', `${libsDir(ctx)}/*`, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', props],
        { encoding: 'utf8', env: { ...ctx.env, KAFKA_LOG4J_OPTS: '' } },
      );
      if (res.status !== 0) {
        throw new OptiBidError(
          'OPTIBID_ERR_SERVICE_START',
          `kafka storage format failed:\n${res.stdout}${res.stderr}`,
          {
            context: { service: 'kafka' },
          },
        );
      }
    }
  },
  launch(ctx) {
    return {
      command: 'java',
      args: [
        '-Xms256m',
        `-Xmx${ctx.env.OPTIBID_KAFKA_HEAP || '1g'}`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${join(ctx.dir, 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${join(ctx.home, 'logs')}`,
        '-cp',
        `${libsDir(ctx)}/*`,
        'kafka.Kafka',
        join(ctx.dir, 'server.properties'),
      ],
    };
  },
  async ready() {
    const kafka = new Kafka({
      clientId: 'optibid-probe',
      brokers: [`${this.host}:${this.port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },
  async version(ctx) {
    const dir = libsDir(ctx);
    const jar = existsSync(dir) ? readdirSync(dir).find((f) => /^kafka_2\.13-.*\.jar$/.test(f)) : undefined;
    return jar ? jar.replace(/^kafka_2\.13-/, '').replace(/\.jar$/, '') : kafkaVersion(ctx.env);
  },
};
