import type { TelemetryReading } from '../../common/records.js';
import {
  makeReading,
  MalformedPayload,
  snake,
  type DecodeResult,
  type MqttDecoder,
  type MqttMessage,
} from './types.js';
import { DataType, decodeSparkplug, type SparkplugMetric } from './sparkplug-proto.js';

/** A parsed Sparkplug B topic: spBv1.0/<group>/<type>/<edge node>[/<device>]. */
export interface SparkplugTopic {
  group: string;
  type: string;
  node: string;
  device: string | null;
}

export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const m = /^spBv1\.0\/([^/]+)\/(NBIRTH|NDEATH|DBIRTH|DDEATH|NDATA|DDATA|NCMD|DCMD)\/([^/]+)(?:\/([^/]+))?$/.exec(
    topic,
  );
  if (!m) return undefined;
  return { group: m[1], type: m[2], node: m[3], device: m[4] ?? null };
}

interface NodeState {
  /** Last seq seen from the node (all its messages share one counter, 0-255). */
  lastSeq: number | null;
  /** True after a gap until the next NBIRTH: readings are SUSPECT. */
  suspect: boolean;
  online: boolean;
  /** alias → metric name, per device ('' for the node itself), from the births. */
  aliases: Map<string, Map<number, string>>;
  /** metric name → unit (engUnit property in the birth). */
  units: Map<string, string>;
}

/** Numeric value of a metric, or undefined for non-numeric types (strings, bytes, datasets). */
function metricValue(m: SparkplugMetric): number | undefined {
  if (m.is_null) return undefined;
  switch (m.datatype) {
    case DataType.Boolean:
      return m.boolean_value === undefined ? undefined : m.boolean_value ? 1 : 0;
    case DataType.Float:
      return m.float_value;
    case DataType.Double:
      return m.double_value;
    case DataType.Int8:
    case DataType.Int16:
    case DataType.Int32: {
      // Signed types travel in the unsigned int_value field: reinterpret the bits.
      const v = m.int_value;
      if (v === undefined) return undefined;
      const bits = m.datatype === DataType.Int8 ? 8 : m.datatype === DataType.Int16 ? 16 : 32;
      return v >= 2 ** (bits - 1) ? v - 2 ** bits : v;
    }
    case DataType.UInt8:
    case DataType.UInt16:
    case DataType.UInt32:
      return m.int_value;
    case DataType.Int64:
    case DataType.UInt64:
      return m.long_value;
    default:
      return m.double_value ?? m.float_value ?? m.int_value ?? m.long_value;
  }
}

function engUnit(m: SparkplugMetric): string | undefined {
  const i = m.properties?.keys.indexOf('engUnit') ?? -1;
  return i >= 0 ? m.properties?.values[i]?.string_value : undefined;
}

/**
 * Sparkplug B: protobuf payloads on spBv1.0 topics. Births (NBIRTH/DBIRTH) register metric names,
 * aliases and units and mark the node or device online; deaths mark it offline (metric `online`).
 * Every message of an edge node but NDEATH carries a sequence number 0-255 that increments by one: a
 * gap (lost messages) or a repeat is reported as an event, and the node's readings are SUSPECT until
 * its next NBIRTH. Data before any birth is read by metric name. A payload without seq, or an alias
 * that no birth defined, is malformed.
 */
export function sparkplugDecoder(): MqttDecoder & {
  nodeState(group: string, node: string): Readonly<NodeState> | undefined;
} {
  const nodes = new Map<string, NodeState>();
  const stateOf = (t: SparkplugTopic): NodeState => {
    const key = `${t.group}/${t.node}`;
    let s = nodes.get(key);
    if (!s) {
      s = { lastSeq: null, suspect: false, online: false, aliases: new Map(), units: new Map() };
      nodes.set(key, s);
    }
    return s;
  };
  return {
    name: 'sparkplug',
    nodeState: (group, node) => nodes.get(`${group}/${node}`),
    decode(msg: MqttMessage): DecodeResult {
      const t = parseSparkplugTopic(msg.topic);
      if (!t)
        throw new MalformedPayload(msg.topic, 'not a Sparkplug B topic (spBv1.0/<group>/<type>/<node>[/<device>])');
      if (t.type === 'NCMD' || t.type === 'DCMD') return { readings: [] };
      if (msg.payload.length === 0) throw new MalformedPayload(msg.topic, `empty ${t.type} payload (no seq)`);
      let p;
      try {
        p = decodeSparkplug(msg.payload);
      } catch (err) {
        throw new MalformedPayload(msg.topic, `invalid Sparkplug protobuf (${(err as Error).message})`);
      }
      const state = stateOf(t);
      const events: string[] = [];
      const assetId = t.device ? `${t.group}/${t.node}/${t.device}` : `${t.group}/${t.node}`;
      const observedAt = p.timestamp ?? msg.receivedAt;
      const aliasKey = t.device ?? '';
      const readings: TelemetryReading[] = [];
      const online = (v: number): void => {
        readings.push(
          makeReading({
            assetId,
            siteId: t.group,
            metric: 'online',
            value: v,
            unit: '1',
            quality: 'GOOD',
            observedAt,
            receivedAt: msg.receivedAt,
            origin: msg.topic,
          }),
        );
      };
      if (t.type === 'NDEATH') {
        // NDEATH carries bdSeq, not seq; the node is gone until its next NBIRTH.
        state.online = false;
        state.lastSeq = null;
        events.push(`${t.group}/${t.node}: NDEATH`);
        online(0);
        return { readings, events };
      }
      if (p.seq === undefined) throw new MalformedPayload(msg.topic, `${t.type} payload without seq`);
      if (p.seq < 0 || p.seq > 255) throw new MalformedPayload(msg.topic, `seq ${p.seq} is outside 0-255`);
      if (t.type === 'NBIRTH') {
        if (p.seq !== 0) events.push(`${t.group}/${t.node}: NBIRTH with seq ${p.seq} (expected 0)`);
        state.suspect = false;
        state.online = true;
        state.aliases.clear();
        events.push(`${t.group}/${t.node}: NBIRTH`);
      } else if (state.lastSeq !== null) {
        const expected = (state.lastSeq + 1) % 256;
        if (p.seq === state.lastSeq) {
          events.push(`${t.group}/${t.node}: repeated seq ${p.seq} on ${t.type}`);
          state.suspect = true;
        } else if (p.seq !== expected) {
          events.push(
            `${t.group}/${t.node}: seq gap, expected ${expected}, got ${p.seq} (${(p.seq - expected + 256) % 256} message(s) lost)`,
          );
          state.suspect = true;
        }
      }
      state.lastSeq = p.seq;
      if (t.type === 'DBIRTH') state.aliases.set(aliasKey, new Map());
      const aliases = state.aliases.get(aliasKey);
      if (t.type === 'NBIRTH' || t.type === 'DBIRTH') {
        for (const m of p.metrics ?? []) {
          if (m.name && m.alias !== undefined) {
            let map = aliases;
            if (!map) {
              map = new Map();
              state.aliases.set(aliasKey, map);
            }
            map.set(m.alias, m.name);
          }
          const unit = engUnit(m);
          if (m.name && unit) state.units.set(`${aliasKey}|${m.name}`, unit);
        }
      }
      if (t.type === 'DDEATH') {
        events.push(`${assetId}: DDEATH`);
        online(0);
        return { readings, events };
      }
      if (t.type === 'NBIRTH' || t.type === 'DBIRTH') online(1);
      for (const m of p.metrics ?? []) {
        let name = m.name;
        if (!name && m.alias !== undefined) {
          name = state.aliases.get(aliasKey)?.get(m.alias);
          if (!name)
            throw new MalformedPayload(msg.topic, `metric alias ${m.alias} was not defined by a birth certificate`);
        }
        if (!name) throw new MalformedPayload(msg.topic, 'metric without name or alias');
        if (name.startsWith('Node Control/') || name.startsWith('Device Control/') || name === 'bdSeq') continue;
        const value = metricValue(m);
        if (value === undefined) continue;
        if (!Number.isFinite(value))
          throw new MalformedPayload(msg.topic, `metric ${name} is ${value}, not a finite number`);
        readings.push(
          makeReading({
            assetId,
            siteId: t.group,
            metric: snake(name),
            value,
            unit: state.units.get(`${aliasKey}|${name}`) ?? '1',
            quality: state.suspect ? 'SUSPECT' : 'UNKNOWN',
            observedAt: m.timestamp ?? observedAt,
            receivedAt: msg.receivedAt,
            origin: msg.topic,
          }),
        );
      }
      return { readings, events };
    },
  };
}
