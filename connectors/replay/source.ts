import { createReadStream, existsSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { basename } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  defineSource,
  EndOfInput,
  OptiBidError,
  toDeadLetter,
  VirtualClock,
  type ComponentContext,
  type OutRecord,
  type Source,
  type SourceBatch,
} from '@optibid/runtime';
import type jsonata from 'jsonata';
import { compileJsonata } from '../common/jsonata-env.js';
import { shapeRecord } from '../common/avro-shape.js';
import { toOutRecord, type NormalizedRecord } from '../common/records.js';
import { parseCsv } from '../common/payload.js';
import { realSleeper, VirtualSleeper, type Sleeper } from '../common/timer.js';

export const replayConfig = Type.Object(
  {
    file: Type.String({ description: 'CSV (header row) or JSONL file to replay.' }),
    format: Type.Optional(
      Type.Union([Type.Literal('csv'), Type.Literal('jsonl')], { description: 'Default: from the file extension.' }),
    ),
    topic: Type.Union(
      [Type.Literal('market.prices'), Type.Literal('market.fundamentals'), Type.Literal('telemetry.readings')],
      { description: 'Topic the records go to; each row is shaped to its Avro value schema.' },
    ),
    mapping: Type.Optional(
      Type.String({
        description:
          'JSONata from a row (object of columns) to a record object, or an array of them; bound: $line, $file, $now and $instant(text, zone?). Without it, columns must carry the Avro field names.',
      }),
    ),
    speed: Type.Optional(
      Type.Number({
        minimum: 0,
        default: 0,
        description:
          '0: as fast as possible. N > 0: event time runs N times faster than wall time (1 = real time, 3600 = an hour per second).',
      }),
    ),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, default: 500, description: 'Most records per batch.' })),
    deadLetterTopic: Type.Optional(
      Type.String({
        default: 'dlq.replay',
        description: 'Where rows that cannot be shaped go, with file:line and the reason.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ReplayConfig = Static<typeof replayConfig>;

/**
 * Replays a CSV or JSONL file onto a topic, for backtests and demos: at full speed, or time-scaled so
 * records are released as their event times come due on the (injected) clock. Rows that cannot be
 * shaped to the topic's schema go to the dead-letter topic with the file, line and reason.
 */
export class ReplaySource implements Source {
  private lines?: AsyncIterator<string>;
  private rl?: Interface;
  private header?: string[];
  private lineNo = 0;
  private pending: OutRecord[] = [];
  private expr?: jsonata.Expression;
  private firstEvent?: number;
  private wallStart?: number;
  private done = false;
  private readonly sleeper: Sleeper;
  private readonly format: 'csv' | 'jsonl';
  private readonly name: string;
  readonly stats = { rows: 0, records: 0, deadLettered: 0 };

  constructor(
    private readonly cfg: ReplayConfig,
    private readonly ctx: ComponentContext,
    deps: { sleeper?: Sleeper } = {},
  ) {
    this.sleeper = deps.sleeper ?? (ctx.clock instanceof VirtualClock ? new VirtualSleeper(ctx.clock) : realSleeper);
    this.format = cfg.format ?? (/\.jsonl?$/i.test(cfg.file) ? 'jsonl' : 'csv');
    this.name = basename(cfg.file);
    if (cfg.mapping) this.expr = compileJsonata(cfg.mapping, `${ctx.name}: mapping`);
  }

  async connect(): Promise<void> {
    if (!existsSync(this.cfg.file))
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `replay: ${this.cfg.file} does not exist`);
    this.rl = createInterface({ input: createReadStream(this.cfg.file, 'utf8'), crlfDelay: Infinity });
    this.lines = this.rl[Symbol.asyncIterator]();
  }

  private async nextRow(): Promise<{ line: number; row: Record<string, unknown> } | undefined> {
    for (;;) {
      const r = await this.lines!.next();
      if (r.done) return undefined;
      this.lineNo++;
      const text = r.value;
      if (text.trim() === '') continue;
      if (this.format === 'jsonl') {
        try {
          const v = JSON.parse(text) as unknown;
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
          return { line: this.lineNo, row: v as Record<string, unknown> };
        } catch (err) {
          return { line: this.lineNo, row: { __error: `invalid JSON line (${(err as Error).message})`, __text: text } };
        }
      }
      const cells = parseCsv(text, `${this.name}:${this.lineNo}`)[0] ?? [];
      if (!this.header) {
        this.header = cells.map((c) => c.trim());
        continue;
      }
      if (cells.length !== this.header.length)
        return {
          line: this.lineNo,
          row: { __error: `CSV row has ${cells.length} fields, header has ${this.header.length}`, __text: text },
        };
      return { line: this.lineNo, row: Object.fromEntries(this.header.map((h, i) => [h, cells[i]])) };
    }
  }

  private async shape(line: number, row: Record<string, unknown>): Promise<OutRecord[]> {
    const where = `${this.name}:${line}`;
    const fail = (reason: string, err: unknown): OutRecord[] => {
      this.stats.deadLettered++;
      const rec: OutRecord = {
        topic: this.cfg.topic,
        key: where,
        value: row.__text ?? row,
        timestamp: this.ctx.clock.now(),
        headers: { file: this.cfg.file, line: String(line) },
      };
      const dl = toDeadLetter(this.cfg.deadLetterTopic ?? 'dlq.replay', rec, this.ctx.name, err);
      dl.headers!.reason = reason;
      return [dl];
    };
    if (row.__error)
      return fail(`${where}: ${String(row.__error)}`, new OptiBidError('OPTIBID_ERR_DECODE', String(row.__error)));
    try {
      let out: unknown = row;
      if (this.expr) out = await this.expr.evaluate(row, { line, file: this.cfg.file, now: this.ctx.clock.now() });
      if (out === undefined) return [];
      const items = (Array.isArray(out) ? out : [out]) as Record<string, unknown>[];
      return items.map((o) => {
        const rec: NormalizedRecord = shapeRecord(
          this.cfg.topic,
          {
            ...(this.cfg.topic === 'telemetry.readings'
              ? { receivedAt: this.ctx.clock.now() }
              : { ingestedAt: this.ctx.clock.now() }),
            ...o,
          },
          where,
        );
        return toOutRecord(rec, { 'replay-line': String(line) });
      });
    } catch (err) {
      return fail(
        err instanceof OptiBidError && err.message.startsWith(where)
          ? err.message
          : `${where}: ${(err as Error).message}`,
        err,
      );
    }
  }

  async read(): Promise<SourceBatch> {
    const size = this.cfg.batchSize ?? 500;
    const speed = this.cfg.speed ?? 0;
    const batch: OutRecord[] = [];
    for (;;) {
      if (this.pending.length === 0 && !this.done) {
        const next = await this.nextRow();
        if (!next) this.done = true;
        else {
          this.stats.rows++;
          this.pending.push(...(await this.shape(next.line, next.row)));
        }
        continue;
      }
      const rec = this.pending[0];
      if (!rec) break;
      if (speed > 0 && !rec.topic.startsWith('dlq.')) {
        this.firstEvent ??= rec.timestamp;
        this.wallStart ??= this.ctx.clock.now();
        const due = this.wallStart + (rec.timestamp - this.firstEvent) / speed;
        const wait = due - this.ctx.clock.now();
        if (wait > 0) {
          if (batch.length) break;
          await this.sleeper.sleep(wait, this.ctx.signal);
        }
      }
      batch.push(this.pending.shift()!);
      if (batch.length >= size) break;
    }
    if (batch.length === 0) throw new EndOfInput();
    this.stats.records += batch.filter((r) => !r.topic.startsWith('dlq.')).length;
    return { records: batch, ack: async () => {} };
  }

  async close(): Promise<void> {
    this.rl?.close();
  }
}

export const replaySource = defineSource({
  name: 'replay',
  status: 'beta',
  summary:
    'Replays CSV or JSONL files onto market.prices, market.fundamentals or telemetry.readings, at full speed or time-scaled, for backtests and demos.',
  outputs: ['market.prices', 'market.fundamentals', 'telemetry.readings'],
  config: replayConfig,
  create: (cfg, ctx) => new ReplaySource(cfg, ctx),
});
