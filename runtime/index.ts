export * from './errors.js';
export * from './endpoints.js';
export * from './clock.js';
export * from './record.js';
export * from './component.js';
export * from './registry.js';
export * from './serde/index.js';
