import type { Command } from 'commander';
import { registerServices } from './services.js';
import { registerBacktest } from './backtest.js';
import { registerAlerts } from './alerts.js';
import { registerDb } from './db.js';
import { registerRegistry } from './registry.js';
import { registerSchemasCommand } from './schemas.js';
import { registerPipeline } from './pipeline.js';
import { registerDemo } from './demo.js';
import { registerRun } from './run.js';
import { registerConnector } from './connector.js';

/** Registers one top-level command (and its subcommands) on the program. */
export type RegisterCommand = (program: Command) => void;

/** Every top-level command, in the order `optibid --help` lists them. */
export const commands: RegisterCommand[] = [
  registerServices,
  registerBacktest,
  registerAlerts,
  registerDb,
  registerRegistry,
  registerSchemasCommand,
  registerPipeline,
  registerDemo,
  registerRun,
  registerConnector,
];
