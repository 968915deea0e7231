import { OptiBidError } from './errors.js';
import type { ComponentDefinition, ComponentKind } from './component.js';

/** Components by name. Built from an explicit list (see pipelines/builtins.ts); duplicate names are rejected. */
export class ComponentRegistry {
  private readonly byName = new Map<string, ComponentDefinition>();

  constructor(definitions: ComponentDefinition[] = []) {
    for (const def of definitions) this.register(def);
  }

  register(def: ComponentDefinition): void {
    if (!/^[a-z][a-z0-9-]*$/.test(def.name)) {
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `component name "${def.name}" must be lower-case kebab-case`);
    }
    const existing = this.byName.get(def.name);
    if (existing) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `component "${def.name}" is registered twice (${existing.kind} and ${def.kind})`,
      );
    }
    this.byName.set(def.name, def);
  }

  get(name: string): ComponentDefinition | undefined {
    return this.byName.get(name);
  }

  /** Every component, optionally of one kind, sorted by name. */
  list(kind?: ComponentKind): ComponentDefinition[] {
    return [...this.byName.values()]
      .filter((d) => !kind || d.kind === kind)
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
