import { kafkaService } from './kafka.js';
import { postgresService } from './postgres.js';
import { clickhouseService } from './clickhouse.js';
import { mosquittoService } from './mosquitto.js';
import { registryService } from './registry.js';
import type { ServiceDefinition } from './service.js';

export * from './service.js';
export * from './manager.js';
export * from './paths.js';
export * from './probe.js';
export { kafkaService, postgresService, clickhouseService, mosquittoService, registryService };

/** The local services, in start order (`down` stops them in reverse). */
export const localServices: ServiceDefinition[] = [
  kafkaService,
  registryService,
  postgresService,
  clickhouseService,
  mosquittoService,
];
