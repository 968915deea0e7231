/** Types of gen-types.mjs, for the tests and the CLI that import it. */
export interface SchemaFile {
  file: string;
  topic: string;
  part: string;
  subject: string;
  // Parsed .avsc JSON: the tests and the CLI read fields off it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  schema: any;
}
export function readSchemaFiles(dir?: string): SchemaFile[];
export function lintSchemas(files: SchemaFile[]): string[];
export function generate(files?: SchemaFile[]): Record<string, string>;
export function staleFiles(outputs?: Record<string, string>): string[];
