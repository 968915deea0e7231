export * from './generated/index.js';
export * from './keys.js';
