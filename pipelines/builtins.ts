import { ComponentRegistry } from '@optibid/runtime';
import type { ComponentDefinition } from '@optibid/runtime';
import { rollupDefinition } from '@optibid/processors/aggregate/rollup.js';
import { windowAggregateDefinition } from '@optibid/processors/aggregate/window-aggregate.js';
import { tableJoinDefinition } from '@optibid/processors/aggregate/join.js';
import { alertingProcessor } from '@optibid/processors/alerting/processor.js';
import { priceForecastProcessor } from '@optibid/processors/forecast/processor.js';
import { batteryBidderProcessor } from '@optibid/processors/bidding/processor.js';
import { demoForecastDefinition } from './demo/forecast.js';
import { entsoeSource } from '@optibid/connectors/entsoe/source.js';
import { nordpoolSource } from '@optibid/connectors/nordpool/source.js';
import { iexSource } from '@optibid/connectors/iex/source.js';
import { caisoSource } from '@optibid/connectors/caiso/source.js';
import { mqttSource } from '@optibid/connectors/mqtt/source.js';
import { replaySource } from '@optibid/connectors/replay/source.js';
import { httpSource } from '@optibid/connectors/http/source.js';

import { timescaleSink } from '@optibid/connectors/timescale/sink.js';
import { clickhouseSink } from '@optibid/connectors/clickhouse/sink.js';
import { webhookSink } from '@optibid/connectors/alerts/webhook.js';
import { slackSink } from '@optibid/connectors/alerts/slack.js';
import { emailSink } from '@optibid/connectors/alerts/email.js';
import { mqttPublishSink } from '@optibid/connectors/alerts/mqtt.js';
import { kafkaAlertsSink } from '@optibid/connectors/alerts/kafka.js';

/**
 * Every built-in source, processor and sink, listed explicitly (no discovery magic).
 * Add a component by importing its definition and adding it to this array; duplicates are rejected.
 */
export const builtinDefinitions: ComponentDefinition[] = [
  rollupDefinition,
  windowAggregateDefinition,
  tableJoinDefinition,
  alertingProcessor,
  priceForecastProcessor,
  batteryBidderProcessor,
  demoForecastDefinition,
  entsoeSource,
  nordpoolSource,
  iexSource,
  caisoSource,
  mqttSource,
  replaySource,
  httpSource,
  timescaleSink,
  clickhouseSink,
  webhookSink,
  slackSink,
  emailSink,
  mqttPublishSink,
  kafkaAlertsSink,
];

/** A registry holding the built-in components. */
export function builtinRegistry(): ComponentRegistry {
  return new ComponentRegistry(builtinDefinitions);
}
