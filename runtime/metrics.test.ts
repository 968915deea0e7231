import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { defineProcessor } from './component.js';
import { MemoryTransport } from './memory/transport.js';
import { pipelineMetrics, serveMetrics } from './metrics.js';
import { makeSpec } from './spec.js';
import { arraySource } from './testing.js';

const halve = defineProcessor({
  name: 'halve',
  status: 'stable',
  summary: 'halves even numbers, throws on odd ones',
  config: Type.Object({}),
  create: () => ({
    process(r, ctx) {
      if ((r.value as number) % 2) throw new Error('odd');
      ctx.emit({ key: r.key, value: (r.value as number) / 2, timestamp: r.timestamp });
    },
  }),
});

describe('pipeline metrics', () => {
  it('serves records in/out/failed, DLQ count, lag and a latency histogram per component', async () => {
    const spec = makeSpec({
      name: 'm',
      sources: [
        {
          name: 'src',
          definition: arraySource(
            'src',
            [2, 3, 4, 5, 6].map((v, i) => ({ topic: 'in', key: null, value: v, timestamp: i })),
          ),
        },
      ],
      processors: [{ name: 'halve', definition: halve, inputs: ['in'], outputs: ['out'] }],
    });
    const run = await new MemoryTransport().start(spec, { untilIdle: true });
    const registry = pipelineMetrics('m', run);
    await run.done;
    const server = await serveMetrics(registry, 0);
    const port = (server.address() as AddressInfo).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    server.close();
    const labels = 'pipeline="m",component="halve",kind="processor"';
    expect(text).toContain(`optibid_records_in_total{${labels}} 5`);
    expect(text).toContain(`optibid_records_out_total{${labels}} 3`);
    expect(text).toContain(`optibid_records_failed_total{${labels}} 2`);
    expect(text).toContain(`optibid_dlq_records_total{${labels}} 2`);
    expect(text).toContain(`optibid_consumer_lag{${labels}} 0`);
    expect(text).toMatch(new RegExp(`optibid_processing_latency_seconds_count\\{${labels}\\} [1-9]`));
  });
});
