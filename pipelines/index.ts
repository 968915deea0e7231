export * from './builtins.js';
export * from './document.js';
export * from './loader.js';
export * from './test-runner.js';
