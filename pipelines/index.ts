export * from './builtins.js';
