export * from './errors.js';
export * from './avro-schema.js';
export * from './compatibility.js';
export * from './state.js';
export * from './store.js';
export * from './kafka-store.js';
export * from './registry.js';
export * from './server.js';
