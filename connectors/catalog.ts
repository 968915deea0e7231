import { OptiBidError } from '@optibid/runtime';
import type { Payload } from './common/payload.js';
import type { NormalizedRecord } from './common/records.js';
import { parseEntsoe } from './entsoe/parse.js';
import { parseNordpool } from './nordpool/parse.js';
import { parseIex } from './iex/parse.js';
import { parseCaiso } from './caiso/parse.js';
import { makeDecoder, MalformedPayload } from './mqtt/decoders/index.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndOfInput, VirtualClock } from '@optibid/runtime';
import { ReplaySource, type ReplayConfig } from './replay/source.js';
import { loadFeed, runFeed } from './http/feed.js';

/** What `optibid connector decode` gets back: the records and notes for stderr (no data, warnings). */
export interface DecodeOutput {
  records: NormalizedRecord[];
  notes: string[];
}

/** Runs only a connector's parser on one recorded response or payload. `config` is the connector's config (as JSON). */
export type DecodeFn = (payload: Payload, config: Record<string, unknown>, now: number) => Promise<DecodeOutput>;

function str(config: Record<string, unknown>, key: string): string | undefined {
  const v = config[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new OptiBidError('OPTIBID_ERR_USAGE', `--config: "${key}" must be text`);
  return v;
}

/** The parsers behind `optibid connector decode`, by connector name. Other modules add theirs with `registerDecode`. */
export const connectorDecoders: Record<string, DecodeFn> = {
  entsoe: async (p, cfg, now) => {
    const r = parseEntsoe(p, { now, market: str(cfg, 'market') });
    return { records: r.records, notes: [...(r.status === 'no-data' ? [`no data: ${r.reason}`] : []), ...r.warnings] };
  },
  nordpool: async (p, _cfg, now) => {
    const r = parseNordpool(p, { now });
    return {
      records: r.records,
      notes: [
        ...(r.status === 'not-published'
          ? [`not yet published (delivery ${r.deliveryDate ?? '?'}, version ${r.version ?? '?'})`]
          : []),
        ...r.warnings,
      ],
    };
  },
  iex: async (p, cfg, now) => {
    const r = parseIex(p, {
      now,
      segment: str(cfg, 'segment'),
      areas: cfg.areas === undefined ? undefined : Boolean(cfg.areas),
    });
    return { records: r.records, notes: [`blocks per day: ${JSON.stringify(r.blocks)}`, ...r.warnings] };
  },
  caiso: async (p, _cfg, now) => {
    const r = parseCaiso(p, { now });
    return { records: r.records, notes: [...(r.status === 'no-data' ? [`no data: ${r.reason}`] : []), ...r.warnings] };
  },
  mqtt: async (p, cfg, now) => {
    const decoderName = str(cfg, 'decoder');
    const topic = str(cfg, 'topic');
    if (!decoderName || !topic)
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        'mqtt decode needs --config \'{"decoder": "shelly|tasmota|victron|sparkplug|json", "topic": "<the MQTT topic>"}\'',
      );
    const decoder = makeDecoder(decoderName, { mapping: str(cfg, 'mapping'), timeZone: str(cfg, 'timeZone') });
    const bytes = typeof p.body === 'string' ? Buffer.from(p.body) : p.body;
    try {
      const r = await decoder.decode({ topic, payload: bytes, receivedAt: now });
      return { records: r.readings.map((value) => ({ topic: 'telemetry.readings', value })), notes: r.events ?? [] };
    } catch (err) {
      if (err instanceof MalformedPayload) throw new OptiBidError('OPTIBID_ERR_DECODE', `${p.where}: ${err.message}`);
      throw err;
    }
  },
  http: async (p, cfg, now) => {
    const feed = str(cfg, 'feed');
    if (!feed)
      throw new OptiBidError('OPTIBID_ERR_USAGE', 'http decode needs --config \'{"feed": "<feed YAML file>"}\'');
    const r = await runFeed(loadFeed(feed), p, now, str(cfg, 'date'));
    return { records: r.records, notes: r.status === 'ok' ? [] : [r.status] };
  },
  replay: async (p, cfg, now) => {
    const topic = str(cfg, 'topic');
    if (!topic)
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        'replay decode needs --config \'{"topic": "market.prices", "mapping": "<JSONata, optional>"}\'',
      );
    const dir = mkdtempSync(join(tmpdir(), 'optibid-replay-'));
    const file = join(dir, p.where);
    writeFileSync(file, typeof p.body === 'string' ? p.body : Buffer.from(p.body));
    const noop = (): void => {};
    const src = new ReplaySource({ ...(cfg as Partial<ReplayConfig>), file, topic } as ReplayConfig, {
      name: 'decode',
      clock: new VirtualClock(now),
      env: process.env,
      signal: new AbortController().signal,
      logger: { debug: noop, info: noop, warn: noop, error: noop },
    });
    const records: NormalizedRecord[] = [];
    const notes: string[] = [];
    try {
      await src.connect();
      for (;;) {
        const batch = await src.read();
        for (const r of batch.records) {
          if (r.topic.startsWith('dlq.')) throw new OptiBidError('OPTIBID_ERR_DECODE', r.headers?.reason ?? 'bad row');
          records.push({ topic: r.topic, value: r.value } as NormalizedRecord);
        }
      }
    } catch (err) {
      if (!(err instanceof EndOfInput)) throw err;
    } finally {
      await src.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return { records, notes };
  },
};

/** Adds the decode function of a connector (used by connectors defined outside this file). */
export function registerDecode(name: string, fn: DecodeFn): void {
  connectorDecoders[name] = fn;
}
