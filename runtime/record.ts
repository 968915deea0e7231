/** Header values are strings on every transport (Kafka headers are decoded as UTF-8). */
export type Headers = Record<string, string>;

/**
 * One record on a topic. `timestamp` is the record's event time in ms since the epoch (UTC);
 * `partition` and `offset` are set by the transport that delivered it.
 */
export interface StreamRecord<V = unknown> {
  topic: string;
  key: string | null;
  value: V;
  timestamp: number;
  headers?: Headers;
  partition?: number;
  offset?: string;
}

/** A record a component produces: the transport assigns partition and offset. */
export type OutRecord<V = unknown> = Omit<StreamRecord<V>, 'partition' | 'offset'>;
