/** Where a record being decoded came from: named in every decode error. */
export interface RecordOrigin {
  topic: string;
  partition?: number;
  offset?: string;
}

/**
 * Turns record values into bytes and back. The Kafka transports use one per topic; the memory
 * transport passes values through untouched. Implementations: `jsonSerde` (below), the Avro serde with
 * Confluent framing in avro.ts.
 */
export interface Serde {
  serialize(topic: string, value: unknown): Promise<Buffer>;
  /** Throws OptiBidError('OPTIBID_ERR_DECODE') naming topic, partition and offset on bad bytes. */
  deserialize(bytes: Buffer, origin: RecordOrigin): Promise<unknown>;
  /**
   * Optional promise-free warm path (AvroSerde has it): the bytes, or undefined when the serde is not
   * ready for this topic yet (schema id not cached), and then callers await `serialize`. Throws where
   * `serialize` would reject. A promise per record costs more than encoding a small Avro record.
   */
  serializeSync?(topic: string, value: unknown): Buffer | undefined;
  /** Optional promise-free warm path: `{ value }`, or undefined when not ready (then await `deserialize`). */
  deserializeSync?(bytes: Buffer, origin: RecordOrigin): { value: unknown } | undefined;
  /**
   * Optional: `deserializeSync` of the bytes `buf[start, end)` without a view of them, returning the value
   * itself, or undefined when not ready (no serde here decodes a value to undefined). For transports that
   * decode records in place in a fetched buffer. With `fields` (a projection: the top-level fields the
   * consumer reads, see `ProcessorDefinition.valueFields`) a serde may build only those fields of a record
   * value; it must still check the rest as a whole decode would (a record that fails to decode whole
   * fails projected, with the same error). A serde may ignore `fields` and return the whole value.
   */
  deserializeRangeSync?(
    buf: Buffer,
    start: number,
    end: number,
    origin: RecordOrigin,
    fields?: readonly string[],
  ): unknown;
}
