import type { ComponentKind } from '../component.js';

/** Live counters of one component, read by status lines and Prometheus metrics. */
export interface ComponentStats {
  name: string;
  kind: ComponentKind;
  recordsIn: number;
  recordsOut: number;
  failed: number;
  dlq: number;
  /** Records waiting on the component's inputs (consumer lag), where known. */
  lag: number;
  /** Late records sent to a late-data topic are counted by the processor itself in recordsOut. */
  state: 'starting' | 'running' | 'done' | 'stopped' | 'failed';
  /** Sum of batch processing time (ms). */
  busyMs: number;
  /** Called after each batch with its size and processing time (the metrics' latency histogram). */
  onBatch?: (records: number, ms: number) => void;
}

export function newStats(name: string, kind: ComponentKind): ComponentStats {
  return { name, kind, recordsIn: 0, recordsOut: 0, failed: 0, dlq: 0, lag: 0, state: 'starting', busyMs: 0 };
}

/** One status line: `name kind state in=N out=N failed=N dlq=N lag=N`. */
export function formatStatusLine(s: ComponentStats): string {
  return `${s.name.padEnd(20)} ${s.kind.padEnd(9)} ${s.state.padEnd(8)} in=${s.recordsIn} out=${s.recordsOut} failed=${s.failed} dlq=${s.dlq} lag=${s.lag}`;
}
