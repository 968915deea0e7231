import type { ProcessorDefinition, SinkDefinition, SourceDefinition } from './component.js';

/** A source in a resolved pipeline: its definition, validated config and the topics it writes. */
export interface SourceNode {
  name: string;
  definition: SourceDefinition;
  config: unknown;
  outputs: string[];
}

/** A processor in a resolved pipeline. `outputs[0]` is where `ctx.emit` without a topic goes. */
export interface ProcessorNode {
  name: string;
  definition: ProcessorDefinition;
  config: unknown;
  inputs: string[];
  outputs: string[];
}

/** A sink in a resolved pipeline. */
export interface SinkNode {
  name: string;
  definition: SinkDefinition;
  config: unknown;
  inputs: string[];
}

/** A topic a pipeline uses. */
export interface TopicSpec {
  name: string;
  /** Partitions to create it with when it does not exist (memory transport: always). */
  partitions: number;
  /** Path of the Avro value schema (absent for `dlq.*`). */
  schemaFile?: string;
}

/** Tuning shared by every component of a pipeline. */
export interface PipelineSettings {
  /** How far event time may run ahead before a record counts as out of order (watermark lag). */
  maxOutOfOrdernessMs: number;
  /** Most records handed to a processor or sink at once. */
  batchSize: number;
  /** Most unconsumed records a producer may leave on a topic before it waits (back-pressure). */
  maxInFlight: number;
}

export const defaultSettings: PipelineSettings = { maxOutOfOrdernessMs: 0, batchSize: 1000, maxInFlight: 10_000 };

/** A pipeline whose components are resolved to definitions with validated config: what transports run. */
export interface PipelineSpec {
  name: string;
  sources: SourceNode[];
  processors: ProcessorNode[];
  sinks: SinkNode[];
  topics: Map<string, TopicSpec>;
  settings: PipelineSettings;
}

/** The dead-letter topic of a pipeline. */
export function dlqTopic(pipeline: string): string {
  return `dlq.${pipeline}`;
}

/** Processors in an order where every processor comes after those feeding it (the spec is acyclic). */
export function topologicalProcessors(spec: PipelineSpec): ProcessorNode[] {
  const producers = new Map<string, ProcessorNode[]>();
  for (const p of spec.processors) for (const t of p.outputs) producers.set(t, [...(producers.get(t) ?? []), p]);
  const out: ProcessorNode[] = [];
  const seen = new Set<string>();
  const visit = (p: ProcessorNode, stack: Set<string>): void => {
    if (seen.has(p.name) || stack.has(p.name)) return;
    stack.add(p.name);
    for (const t of p.inputs) for (const up of producers.get(t) ?? []) visit(up, stack);
    stack.delete(p.name);
    seen.add(p.name);
    out.push(p);
  };
  for (const p of spec.processors) visit(p, new Set());
  return out;
}

/** Input of `makeSpec`: nodes with optional config, topics and settings filled in. */
export interface SpecInput {
  name: string;
  sources?: Array<Omit<SourceNode, 'config' | 'outputs'> & { config?: unknown; outputs?: string[] }>;
  processors?: Array<Omit<ProcessorNode, 'config'> & { config?: unknown }>;
  sinks?: Array<Omit<SinkNode, 'config'> & { config?: unknown }>;
  /** Partition counts by topic (default 1). */
  partitions?: Record<string, number>;
  settings?: Partial<PipelineSettings>;
}

/** Builds a PipelineSpec in code (tests, embedded jobs): every topic named by a node gets a TopicSpec. */
export function makeSpec(input: SpecInput): PipelineSpec {
  const sources = (input.sources ?? []).map((s) => ({
    ...s,
    config: s.config ?? {},
    outputs: s.outputs ?? s.definition.outputs,
  }));
  const processors = (input.processors ?? []).map((p) => ({ ...p, config: p.config ?? {} }));
  const sinks = (input.sinks ?? []).map((s) => ({ ...s, config: s.config ?? {} }));
  const topics = new Map<string, TopicSpec>();
  const add = (name: string) => {
    if (!topics.has(name)) topics.set(name, { name, partitions: input.partitions?.[name] ?? 1 });
  };
  sources.forEach((s) => s.outputs.forEach(add));
  processors.forEach((p) => [...p.inputs, ...p.outputs].forEach(add));
  sinks.forEach((s) => s.inputs.forEach(add));
  return { name: input.name, sources, processors, sinks, topics, settings: { ...defaultSettings, ...input.settings } };
}
