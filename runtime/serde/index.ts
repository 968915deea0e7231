export * from './serde.js';
