/** Types of gen-types.mjs, for the tests and the CLI that import it. */
export interface SchemaFile {
  file: string;
  topic: string;
  part: string;
  subject: string;
  schema: any;
}
export function readSchemaFiles(dir?: string): SchemaFile[];
export function lintSchemas(files: SchemaFile[]): string[];
export function generate(files?: SchemaFile[]): Record<string, string>;
export function staleFiles(outputs?: Record<string, string>): string[];
