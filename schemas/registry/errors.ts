/**
 * Errors the registry answers with, in Confluent Schema Registry's shape: an HTTP status and a body
 * `{ error_code, message }` whose codes clients (and users' scripts) match on.
 */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  toJSON(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }

  static subjectNotFound(subject: string): RegistryError {
    return new RegistryError(404, 40401, `Subject '${subject}' not found.`);
  }
  static versionNotFound(subject: string, version: string | number): RegistryError {
    return new RegistryError(404, 40402, `Version ${version} not found for subject '${subject}'.`);
  }
  static schemaNotFound(detail = 'Schema not found'): RegistryError {
    return new RegistryError(404, 40403, detail);
  }
  static subjectSoftDeleted(subject: string): RegistryError {
    return new RegistryError(
      404,
      40404,
      `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
    );
  }
  static subjectNotSoftDeleted(subject: string): RegistryError {
    return new RegistryError(404, 40405, `Subject '${subject}' was not deleted first before being permanently deleted`);
  }
  static versionSoftDeleted(subject: string, version: number): RegistryError {
    return new RegistryError(
      404,
      40406,
      `Subject '${subject}' Version ${version} was soft deleted. Set permanent=true to delete permanently`,
    );
  }
  static versionNotSoftDeleted(subject: string, version: number): RegistryError {
    return new RegistryError(
      404,
      40407,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    );
  }
  static subjectConfigNotFound(subject: string): RegistryError {
    return new RegistryError(404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`);
  }
  static subjectModeNotFound(subject: string): RegistryError {
    return new RegistryError(404, 40409, `Subject '${subject}' does not have subject-level mode configured`);
  }
  static incompatible(messages: string[]): RegistryError {
    return new RegistryError(
      409,
      409,
      `Schema being registered is incompatible with an earlier schema for subject; details: ${JSON.stringify(messages)}`,
    );
  }
  static invalidSchema(message: string): RegistryError {
    return new RegistryError(422, 42201, message);
  }
  static invalidVersion(version: string): RegistryError {
    return new RegistryError(
      422,
      42202,
      `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    );
  }
  static invalidCompatibilityLevel(level: unknown): RegistryError {
    return new RegistryError(
      422,
      42203,
      `Invalid compatibility level ${JSON.stringify(level)}. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE`,
    );
  }
  static invalidMode(mode: unknown): RegistryError {
    return new RegistryError(
      422,
      42204,
      `Invalid mode ${JSON.stringify(mode)}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT`,
    );
  }
  static operationNotPermitted(message: string): RegistryError {
    return new RegistryError(422, 42205, message);
  }
  static badRequest(message: string): RegistryError {
    return new RegistryError(422, 422, message);
  }
  static storeTimeout(message: string): RegistryError {
    return new RegistryError(500, 50002, message);
  }
  static storeError(message: string): RegistryError {
    return new RegistryError(500, 50001, message);
  }
}
