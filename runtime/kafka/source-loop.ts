import type { Message } from 'kafkajs';
import { EndOfInput, NotConnected, type Logger, type Source } from '../component.js';
import { retryConnect, sleep } from '../core/sink.js';
import type { ComponentStats } from '../core/stats.js';
import { toDeadLetter } from '../dlq.js';
import { OptiBidError } from '../errors.js';
import type { OutRecord } from '../record.js';
import type { SourceNode } from '../spec.js';
import { encodeRecords, rawDeadLetters, type MaybeSyncSerde } from './codec.js';

/** What a Kafka transport lends a source loop: how to reach the broker, and when to stop. */
export interface SourceLoopContext {
  serde: MaybeSyncSerde;
  dlqTopic: string;
  logger: Logger;
  signal: AbortSignal;
  stopped(): boolean;
  /** Produces the encoded records; resolves once the broker acknowledged all of them. */
  send(byTopic: Map<string, Message[]>): Promise<void>;
}

/**
 * The source side of both Kafka transports (kafkajs and rdkafka): connect with back-off, read batches,
 * encode them to their topics (records for undeclared topics and records that fail to encode go to the
 * dead-letter topic), produce, and ack the batch only once the broker has it; reconnect on NotConnected,
 * finish on EndOfInput.
 */
export async function runSourceLoop(
  source: Source,
  node: SourceNode,
  stats: ComponentStats,
  ctx: SourceLoopContext,
): Promise<void> {
  const outputs = new Set(node.outputs);
  await retryConnect(() => source.connect(), node.name, { logger: ctx.logger, signal: ctx.signal });
  stats.state = 'running';
  while (!ctx.stopped()) {
    let batch;
    try {
      batch = await source.read();
    } catch (err) {
      if (err instanceof EndOfInput) break;
      if (err instanceof NotConnected && !ctx.stopped()) {
        await sleep(100, ctx.signal);
        await retryConnect(() => source.connect(), node.name, { logger: ctx.logger, signal: ctx.signal });
        continue;
      }
      throw err;
    }
    const good: OutRecord[] = [];
    const bad: OutRecord[] = [];
    for (const r of batch.records) {
      if (outputs.has(r.topic)) good.push(r);
      else {
        const reason = new OptiBidError(
          'OPTIBID_ERR_CONFIG',
          `source "${node.name}" wrote to undeclared topic "${r.topic}"`,
        );
        bad.push(toDeadLetter(ctx.dlqTopic, r, node.name, reason));
      }
    }
    const { byTopic, failed } = await encodeRecords(good, ctx.serde, ctx.dlqTopic, node.name);
    if (bad.length)
      byTopic.set(ctx.dlqTopic, [...(byTopic.get(ctx.dlqTopic) ?? []), ...rawDeadLetters(bad, new Map())]);
    try {
      await ctx.send(byTopic);
      await batch.ack();
    } catch (err) {
      await batch.ack(err as Error);
      throw err;
    }
    stats.recordsOut += good.length - failed;
    stats.failed += failed + bad.length;
    stats.dlq += failed + bad.length;
  }
  stats.state = ctx.stopped() ? 'stopped' : 'done';
}
