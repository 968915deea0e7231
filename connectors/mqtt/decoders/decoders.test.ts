import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOptiBidError } from '@optibid/runtime';
import {
  makeDecoder,
  sparkplugDecoder,
  encodeSparkplug,
  DataType,
  MalformedPayload,
  type MqttMessage,
} from './index.js';
import { victronMetric } from './victron.js';

const fx = (name: string): string => readFileSync(join(import.meta.dirname, '../fixtures', name), 'utf8');
const NOW = Date.parse('2026-01-01T00:00:00Z');
const msg = (topic: string, payload: string | Uint8Array): MqttMessage => ({
  topic,
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  receivedAt: NOW,
});

async function reason(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof MalformedPayload) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('Shelly Gen2', () => {
  const device = JSON.parse(fx('pro_3em.json'));
  const em = device.status['em:0'];

  test('status/em:0: per-phase and total power, voltage, current; null neutral current skipped', async () => {
    const { readings } = await makeDecoder('shelly').decode(
      msg('shellypro3em-aabbccddeeff/status/em:0', JSON.stringify(em)),
    );
    const by = Object.fromEntries(readings.map((r) => [r.metric, r]));
    expect(by.active_power_a).toMatchObject({
      assetId: 'shellypro3em-aabbccddeeff',
      value: em.a_act_power,
      unit: 'W',
      observedAt: NOW,
      origin: 'shellypro3em-aabbccddeeff/status/em:0',
    });
    expect(by.voltage_c.value).toBe(em.c_voltage);
    expect(by.active_power.value).toBe(em.total_act_power);
    expect(by.current_n).toBeUndefined();
    // 6 per-phase quantities x 3 phases + 3 totals
    expect(readings).toHaveLength(21);
  });

  test('NotifyStatus with em:0 and emdata:0: device id from src, time from params.ts', async () => {
    const note = {
      src: device.shelly.id,
      dst: 'optibid',
      method: 'NotifyStatus',
      params: { ts: device.status.sys.unixtime + 0.25, 'em:0': em, 'emdata:0': device.status['emdata:0'] },
    };
    const { readings } = await makeDecoder('shelly').decode(
      msg('shellypro3em-aabbccddeeff/events/rpc', JSON.stringify(note)),
    );
    const energy = readings.find((r) => r.metric === 'energy_import')!;
    expect(energy).toMatchObject({
      assetId: 'shellypro3em-aabbccddeeff',
      value: device.status['emdata:0'].total_act,
      unit: 'Wh',
      observedAt: device.status.sys.unixtime * 1000 + 250,
    });
    expect(readings.find((r) => r.metric === 'energy_import_b')!.value).toBe(
      device.status['emdata:0'].b_total_act_energy,
    );
  });

  test('a wrong type or nan is malformed', async () => {
    expect(
      await reason(() =>
        makeDecoder('shelly').decode(msg('x/status/em:0', JSON.stringify({ ...em, a_voltage: 'high' }))),
      ),
    ).toMatch(/em:0\.a_voltage is "high", not a finite number/);
    expect(await reason(() => makeDecoder('shelly').decode(msg('x/status/em:0', '{"a_voltage": nan}')))).toMatch(
      /invalid JSON/,
    );
  });
});

describe('Shelly Gen2: payloads without readings say why', () => {
  const device = JSON.parse(fx('pro_3em.json'));
  const shelly = makeDecoder('shelly');

  test('a metering status without any meter field is malformed, naming the expected fields and what it has', async () => {
    expect(await reason(() => shelly.decode(msg('d/status/em:0', '{}')))).toBe(
      'em:0 status has none of the expected meter fields (a_act_power, a_voltage, a_current, total_act_power, total_current, ...): the object is empty',
    );
    // The whole device dump published on a status topic (a misconfigured bridge)
    expect(await reason(() => shelly.decode(msg('d/status/em:0', JSON.stringify(device))))).toMatch(
      /^em:0 status has none of the expected meter fields .*: it has config, shelly, status$/,
    );
    expect(
      await reason(() => shelly.decode(msg('d/status/emdata:0', '{"id": 0, "a_total_act_energy": null}'))),
    ).toMatch(/^emdata:0 status has none .*it has id, a_total_act_energy \(null: a_total_act_energy\)$/);
  });

  test('a topic that is neither a status nor an RPC notification is malformed; other RPC traffic is a note', async () => {
    expect(await reason(() => shelly.decode(msg('d/foo', JSON.stringify(device.status['em:0']))))).toMatch(
      /neither a <device>\/status\/<component> topic nor a NotifyStatus/,
    );
    const ev = await shelly.decode(msg('d/events/rpc', '{"src": "d", "method": "NotifyEvent", "params": {"ts": 1}}'));
    expect(ev).toEqual({ readings: [], events: ['d/events/rpc: NotifyEvent carries no readings'] });
  });

  test('a relay without metering and a non-metering component give no readings and a note, not an error', async () => {
    const sw = await shelly.decode(msg('d/status/switch:0', '{"id": 0, "output": false}'));
    expect(sw.readings).toEqual([]);
    expect(sw.events).toEqual([
      expect.stringMatching(/switch:0 status has none of the expected meter fields .*a switch without metering/),
    ]);
    const sys = await shelly.decode(msg('d/status/sys', '{"uptime": 5}'));
    expect(sys).toEqual({ readings: [], events: ['d/status/sys: sys is not a metering component; no readings'] });
    const wifi = await shelly.decode(msg('d/status/wifi:0', '{"rssi": -60}'));
    expect(wifi).toEqual({
      readings: [],
      events: ['d/status/wifi:0: wifi:0 is not a metering component; no readings'],
    });
  });

  test('em1:N single-phase meters give active power, apparent power and power factor too', async () => {
    const { readings } = await shelly.decode(
      msg(
        'd/status/em1:1',
        '{"id":1,"current":0.5,"voltage":230.1,"act_power":101.5,"aprt_power":115,"pf":0.88,"freq":50}',
      ),
    );
    expect(Object.fromEntries(readings.map((r) => [r.metric, [r.value, r.unit]]))).toEqual({
      current_1: [0.5, 'A'],
      voltage_1: [230.1, 'V'],
      active_power_1: [101.5, 'W'],
      apparent_power_1: [115, 'VA'],
      power_factor_1: [0.88, '1'],
      frequency_1: [50, 'Hz'],
    });
  });
});

describe('Victron Venus', () => {
  const rows = fx('vebus.csv')
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((c) => c.length >= 3 && c[0].startsWith('/'));

  test('every numeric measurement path of the Quattro snapshot becomes a reading with its value', async () => {
    const dec = makeDecoder('victron');
    let count = 0;
    for (const [path, type, value] of rows) {
      if (!['DOUBLE', 'INT32', 'UINT32', 'BYTE', 'UINT16'].includes(type) || value === '') continue;
      const { readings } = await dec.decode(
        msg(`N/c0619ab1c2d3/vebus/276${path}`, JSON.stringify({ value: Number(value) })),
      );
      const known = victronMetric(path.slice(1));
      expect(readings).toHaveLength(known ? 1 : 0);
      if (known) {
        count++;
        expect(readings[0]).toMatchObject({
          assetId: 'c0619ab1c2d3/vebus/276',
          siteId: 'c0619ab1c2d3',
          metric: known[0],
          unit: known[1],
          value: Number(value),
        });
      }
    }
    expect(count).toBeGreaterThan(20);
    expect(victronMetric('Ac/Out/L1/P')).toEqual(['active_power_out_l1', 'W']);
    expect(victronMetric('Soc')).toEqual(['state_of_charge', '%']);
    expect(victronMetric('Dc/0/Temperature')).toEqual(['temperature', 'Cel']);
  });

  test('null values are skipped; strings and bad topics are malformed', async () => {
    const dec = makeDecoder('victron');
    expect((await dec.decode(msg('N/p/vebus/276/Soc', '{"value": null}'))).readings).toEqual([]);
    expect(await reason(() => dec.decode(msg('N/p/vebus/276/Soc', '{"value": "99"}')))).toMatch(
      /value "99" is not a finite number/,
    );
    expect(await reason(() => dec.decode(msg('R/p/vebus', '{}')))).toMatch(/not a Venus/);
  });
});

describe('Tasmota', () => {
  const sensor = {
    Time: '2024-03-31T03:30:00',
    ENERGY: {
      TotalStartTime: '2023-01-01T00:00:00',
      Total: 1234.567,
      Yesterday: 3.2,
      Today: 1.1,
      Power: 450,
      ApparentPower: 470,
      ReactivePower: 135,
      Factor: 0.96,
      Voltage: 231,
      Current: 2.03,
    },
  };

  test('ENERGY fields with device-local time in the configured zone', async () => {
    const { readings } = await makeDecoder('tasmota', { timeZone: 'Europe/Brussels' }).decode(
      msg('tele/plug-7/SENSOR', JSON.stringify(sensor)),
    );
    const power = readings.find((r) => r.metric === 'active_power')!;
    // 03:30 on the spring-forward day in Brussels is CEST (UTC+2).
    expect(power).toMatchObject({
      assetId: 'plug-7',
      value: 450,
      unit: 'W',
      observedAt: Date.parse('2024-03-31T01:30:00Z'),
    });
    expect(readings.find((r) => r.metric === 'energy_import')).toMatchObject({ value: 1234.567, unit: 'kWh' });
    expect(readings).toHaveLength(9);
  });

  test('three-phase arrays give one reading per phase; wrong types are malformed', async () => {
    const three = { Time: '2024-01-01T00:00:00', ENERGY: { Power: [100, 200, 300] } };
    const { readings } = await makeDecoder('tasmota').decode(msg('tele/meter/SENSOR', JSON.stringify(three)));
    expect(readings.map((r) => [r.metric, r.value])).toEqual([
      ['active_power_a', 100],
      ['active_power_b', 200],
      ['active_power_c', 300],
    ]);
    expect(
      await reason(() => makeDecoder('tasmota').decode(msg('tele/meter/SENSOR', '{"ENERGY":{"Power":"x"}}'))),
    ).toMatch(/ENERGY\.Power is "x"/);
  });
});

describe('generic JSON with JSONata', () => {
  test('maps a payload to readings with topic levels', async () => {
    const dec = makeDecoder('json', {
      mapping:
        '[{"assetId": $levels[1], "metric": "state_of_charge", "value": soc, "unit": "%", "observedAt": ts}, {"assetId": $levels[1], "metric": "active_power", "value": p_kw, "unit": "kW", "observedAt": ts}]',
    });
    const { readings } = await dec.decode(
      msg('sites/bess-1/telemetry', JSON.stringify({ soc: 55.5, p_kw: -120, ts: '2025-01-01T10:00:00Z' })),
    );
    expect(readings).toEqual([
      expect.objectContaining({
        assetId: 'bess-1',
        metric: 'state_of_charge',
        value: 55.5,
        unit: '%',
        observedAt: Date.parse('2025-01-01T10:00:00Z'),
        receivedAt: NOW,
        quality: 'UNKNOWN',
      }),
      expect.objectContaining({ assetId: 'bess-1', metric: 'active_power', value: -120 }),
    ]);
    expect(
      await reason(() => dec.decode(msg('sites/bess-1/telemetry', '{"soc": "full", "p_kw": 1, "ts": 0}'))),
    ).toMatch(/mapping result \[0\]\.value is "full"/);
  });

  test('a mapping that does not parse is a config error naming the position', () => {
    let err: unknown;
    try {
      makeDecoder('json', { mapping: '{"a": $levels[1' });
    } catch (e) {
      err = e;
    }
    expect(isOptiBidError(err, 'OPTIBID_ERR_CONFIG')).toBe(true);
    expect(String(err)).toMatch(/character \d+/);
  });
});

describe('Sparkplug B', () => {
  const rows = fx('pcap_patterns.csv')
    .split('\n')
    .filter((l) => l.startsWith('spBv1.0', l.indexOf(',', l.indexOf(',') + 1) + 1))
    .map((l) => {
      const [frame, , topic, , type, node, device, seq, ts, count] = l.split(',');
      return {
        frame: Number(frame),
        topic,
        type,
        node,
        device,
        seq: seq === '' ? undefined : Number(seq),
        ts: ts === '' ? undefined : Number(ts),
        count: Number(count),
      };
    });

  test('the recorded production capture: seq gaps of node 702 are found, empty payloads are malformed', async () => {
    const dec = sparkplugDecoder();
    const events: string[] = [];
    const malformed: string[] = [];
    let readings = 0;
    for (const r of rows) {
      // An empty row in the capture is an empty payload; otherwise seq is 0 when protobuf omitted it.
      const empty = r.ts === undefined && r.seq === undefined;
      const payload = empty
        ? new Uint8Array()
        : encodeSparkplug({
            timestamp: r.ts,
            seq: r.seq ?? 0,
            metrics: Array.from({ length: r.count }, (_, i) => ({
              name: `Metric ${i}`,
              datatype: DataType.Double,
              double_value: i + 0.5,
            })),
          });
      try {
        const res = dec.decode(msg(r.topic, payload)) as Awaited<ReturnType<typeof dec.decode>>;
        events.push(...(res.events ?? []));
        readings += res.readings.length;
      } catch (e) {
        if (!(e instanceof MalformedPayload)) throw e;
        malformed.push(e.reason);
      }
    }
    // Expected gaps, counted straight from the capture's seq column for node 702.
    let prev: number | undefined;
    let gaps = 0;
    for (const r of rows.filter((x) => x.node === '702' && x.ts !== undefined)) {
      const s = r.seq ?? 0;
      if (prev !== undefined && s !== (prev + 1) % 256) gaps++;
      prev = s;
    }
    expect(gaps).toBeGreaterThan(0);
    expect(events.filter((e) => e.startsWith('org_A/702: seq gap'))).toHaveLength(gaps);
    expect(malformed).toHaveLength(rows.filter((r) => r.ts === undefined && r.seq === undefined).length);
    expect(malformed.every((m) => /empty (N|D)DATA payload/.test(m))).toBe(true);
    expect(readings).toBe(rows.filter((r) => r.ts !== undefined).reduce((n, r) => n + r.count, 0));
    expect(dec.nodeState('org_A', '702')!.suspect).toBe(true);
  });

  test('births define aliases and units, a repeat is detected, NBIRTH clears SUSPECT, death marks offline', () => {
    const dec = sparkplugDecoder();
    const t = 'spBv1.0/plant/NBIRTH/edge1';
    const birth = dec.decode(
      msg(
        t,
        encodeSparkplug({
          timestamp: 1000,
          seq: 0,
          metrics: [
            { name: 'bdSeq', datatype: DataType.UInt64, long_value: 3 },
            {
              name: 'Battery/SoC',
              alias: 7,
              datatype: DataType.Float,
              float_value: 50,
              properties: { keys: ['engUnit'], values: [{ type: 12, string_value: '%' }] },
            },
          ],
        }),
      ),
    ) as { readings: { metric: string; value: number; unit: string }[] };
    expect(birth.readings.map((r) => [r.metric, r.value, r.unit])).toEqual([
      ['online', 1, '1'],
      ['battery_so_c', 50, '%'],
    ]);
    const data = dec.decode(
      msg(
        'spBv1.0/plant/NDATA/edge1',
        encodeSparkplug({
          timestamp: 2000,
          seq: 1,
          metrics: [{ alias: 7, datatype: DataType.Float, float_value: 51.5 }],
        }),
      ),
    ) as { readings: { metric: string; value: number; quality: string }[] };
    expect(data.readings).toEqual([
      expect.objectContaining({ metric: 'battery_so_c', value: 51.5, quality: 'UNKNOWN', unit: '%' }),
    ]);
    const again = dec.decode(
      msg(
        'spBv1.0/plant/NDATA/edge1',
        encodeSparkplug({ seq: 1, metrics: [{ alias: 7, datatype: DataType.Float, float_value: 52 }] }),
      ),
    ) as { events: string[]; readings: { quality: string }[] };
    expect(again.events).toEqual(['plant/edge1: repeated seq 1 on NDATA']);
    expect(again.readings[0].quality).toBe('SUSPECT');
    expect(() =>
      dec.decode(
        msg(
          'spBv1.0/plant/NDATA/edge1',
          encodeSparkplug({ seq: 2, metrics: [{ alias: 99, datatype: DataType.Float, float_value: 1 }] }),
        ),
      ),
    ).toThrow(/alias 99 was not defined/);
    dec.decode(
      msg(
        t,
        encodeSparkplug({
          seq: 0,
          metrics: [{ name: 'Battery/SoC', alias: 7, datatype: DataType.Float, float_value: 50 }],
        }),
      ),
    );
    expect(dec.nodeState('plant', 'edge1')!.suspect).toBe(false);
    const death = dec.decode(
      msg(
        'spBv1.0/plant/NDEATH/edge1',
        encodeSparkplug({ metrics: [{ name: 'bdSeq', datatype: DataType.UInt64, long_value: 3 }] }),
      ),
    ) as { readings: { metric: string; value: number }[] };
    expect(death.readings).toEqual([expect.objectContaining({ metric: 'online', value: 0 })]);
    expect(dec.nodeState('plant', 'edge1')!.online).toBe(false);
  });

  test('signed integers and garbage bytes', () => {
    const dec = sparkplugDecoder();
    const r = dec.decode(
      msg(
        'spBv1.0/g/NDATA/n',
        encodeSparkplug({ seq: 5, metrics: [{ name: 'temp', datatype: DataType.Int16, int_value: 65536 - 12 }] }),
      ),
    ) as { readings: { value: number }[] };
    expect(r.readings[0].value).toBe(-12);
    expect(() => dec.decode(msg('spBv1.0/g/NDATA/n', new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02])))).toThrow(
      /invalid Sparkplug protobuf/,
    );
  });
});
