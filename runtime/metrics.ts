import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ComponentStats } from './core/stats.js';
import type { RunningPipeline } from './pipeline.js';

/**
 * Prometheus metrics of a running pipeline, per component (labels `pipeline`, `component`, `kind`):
 * records in/out/failed, DLQ records, consumer lag and a processing-latency histogram (batch
 * processing time per record). Counters read the live ComponentStats when scraped.
 */
export function pipelineMetrics(pipeline: string, run: RunningPipeline, registry = new Registry()): Registry {
  const labelNames = ['pipeline', 'component', 'kind'] as const;
  const labels = (s: ComponentStats) => ({ pipeline, component: s.name, kind: s.kind });
  const counter = (name: string, help: string, pick: (s: ComponentStats) => number) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of run.stats()) this.inc(labels(s), pick(s));
      },
    });
  counter('optibid_records_in_total', 'Records a component consumed.', (s) => s.recordsIn);
  counter('optibid_records_out_total', 'Records a component produced or wrote.', (s) => s.recordsOut);
  counter('optibid_records_failed_total', 'Records whose processing failed.', (s) => s.failed);
  counter('optibid_dlq_records_total', 'Records a component sent to the dead-letter topic.', (s) => s.dlq);
  new Gauge({
    name: 'optibid_consumer_lag',
    help: 'Records waiting on the component inputs.',
    labelNames,
    registers: [registry],
    collect() {
      for (const s of run.stats()) this.set(labels(s), s.lag);
    },
  });
  const latency = new Histogram({
    name: 'optibid_processing_latency_seconds',
    help: 'Processing time per record (batch time / batch size).',
    labelNames,
    buckets: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1],
    registers: [registry],
  });
  for (const s of run.stats()) {
    const l = labels(s);
    s.onBatch = (n, ms) => {
      if (n > 0) latency.observe(l, ms / 1000 / n);
    };
  }
  return registry;
}

/** Serves `registry` on http://0.0.0.0:port/metrics. */
export async function serveMetrics(registry: Registry, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return server;
}
