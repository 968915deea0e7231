export * from './serde.js';
export * from './registry-client.js';
export * from './avro.js';
