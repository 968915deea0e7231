export * from './generated/index.js';
export * from './keys.js';
export * from './registry/index.js';
export * from './check.js';
