import type { TSchema } from '@sinclair/typebox';

type JsonSchema = TSchema & {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
};

function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type ?? 'any';
}

/**
 * One line per config field (dotted paths for nested objects and `[]` for array items): name, type,
 * required or default, and the field's description, for `optibid connector describe`.
 */
export function describeSchema(schema: TSchema, prefix = ''): string[] {
  const s = schema as JsonSchema;
  const lines: string[] = [];
  const required = new Set(s.required ?? []);
  for (const [name, field] of Object.entries(s.properties ?? {})) {
    const path = `${prefix}${name}`;
    // The pipeline loader fills defaults before checking, so a field with a default never has to be given.
    const flags =
      field.default !== undefined
        ? `default ${JSON.stringify(field.default)}`
        : required.has(name)
          ? 'required'
          : 'optional';
    lines.push(`${path}: ${typeOf(field)} (${flags})${field.description ? ` — ${field.description}` : ''}`);
    if (field.properties) lines.push(...describeSchema(field, `${path}.`));
    if (field.items?.properties) lines.push(...describeSchema(field.items, `${path}[].`));
  }
  return lines;
}
