import protobuf from 'protobufjs';

/**
 * The subset of the Eclipse Sparkplug B payload definition (sparkplug_b.proto, Sparkplug 3.0) this
 * decoder reads, written from the specification. Fields not listed (datasets, templates, extensions)
 * are skipped by the protobuf reader.
 */
export const sparkplugProto = `
syntax = "proto2";
package org.eclipse.tahu.protobuf;

message Payload {
  message PropertyValue {
    optional uint32 type = 1;
    optional bool is_null = 2;
    oneof value {
      uint32 int_value = 3;
      uint64 long_value = 4;
      float float_value = 5;
      double double_value = 6;
      bool boolean_value = 7;
      string string_value = 8;
    }
  }
  message PropertySet {
    repeated string keys = 1;
    repeated PropertyValue values = 2;
  }
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    optional bool is_historical = 5;
    optional bool is_transient = 6;
    optional bool is_null = 7;
    optional PropertySet properties = 9;
    oneof value {
      uint32 int_value = 10;
      uint64 long_value = 11;
      float float_value = 12;
      double double_value = 13;
      bool boolean_value = 14;
      string string_value = 15;
      bytes bytes_value = 16;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
}
`;

/** The Sparkplug B Payload message type. */
export const PayloadType = protobuf
  .parse(sparkplugProto, { keepCase: true })
  .root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** Sparkplug data type codes (spec table 6.4.16). */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
} as const;

/** Plain-object shape of a metric, as encoded and decoded here. */
export interface SparkplugMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  is_null?: boolean;
  is_historical?: boolean;
  properties?: { keys: string[]; values: { type?: number; string_value?: string }[] };
  int_value?: number;
  long_value?: number;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
}

export interface SparkplugPayload {
  timestamp?: number;
  metrics?: SparkplugMetric[];
  seq?: number;
  uuid?: string;
}

/** Encodes a payload (used by tests and by `optibid connector decode` round trips). */
export function encodeSparkplug(p: SparkplugPayload): Uint8Array {
  return PayloadType.encode(PayloadType.fromObject(p)).finish();
}

/** Decodes a payload; 64-bit integers become numbers (exact up to 2^53). */
export function decodeSparkplug(bytes: Uint8Array): SparkplugPayload {
  const msg = PayloadType.decode(bytes);
  return PayloadType.toObject(msg, { longs: Number, defaults: false }) as SparkplugPayload;
}
