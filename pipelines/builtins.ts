import { ComponentRegistry } from '@optibid/runtime';
import type { ComponentDefinition } from '@optibid/runtime';

/**
 * Every built-in source, processor and sink, listed explicitly (no discovery magic).
 * Add a component by importing its definition and adding it to this array; duplicates are rejected.
 */
export const builtinDefinitions: ComponentDefinition[] = [];

/** A registry holding the built-in components. */
export function builtinRegistry(): ComponentRegistry {
  return new ComponentRegistry(builtinDefinitions);
}
