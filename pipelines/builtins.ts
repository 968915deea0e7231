import { ComponentRegistry } from '@optibid/runtime';
import type { ComponentDefinition } from '@optibid/runtime';
import { rollupDefinition } from '@optibid/processors/aggregate/rollup.js';
import { windowAggregateDefinition } from '@optibid/processors/aggregate/window-aggregate.js';
import { tableJoinDefinition } from '@optibid/processors/aggregate/join.js';
import { alertingProcessor } from '@optibid/processors/alerting/processor.js';
import { epfReplayDefinition } from './demo/epf-replay.js';
import { demoForecastDefinition } from './demo/forecast.js';

/**
 * Every built-in source, processor and sink, listed explicitly (no discovery magic).
 * Add a component by importing its definition and adding it to this array; duplicates are rejected.
 */
export const builtinDefinitions: ComponentDefinition[] = [
  rollupDefinition,
  windowAggregateDefinition,
  tableJoinDefinition,
  alertingProcessor,
  epfReplayDefinition,
  demoForecastDefinition,
];

/** A registry holding the built-in components. */
export function builtinRegistry(): ComponentRegistry {
  return new ComponentRegistry(builtinDefinitions);
}
