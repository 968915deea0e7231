export * from './duration.js';
export * from './field.js';
export * from './window.js';
export * from './window-aggregate.js';
export * from './rollup.js';
export * from './join.js';
