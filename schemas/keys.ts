/**
 * Every topic is keyed by a small Avro record (see `<topic>-key.avsc`). Transports that carry keys
 * as text use `keyString`: the key's field values in schema order joined by `|`, null as the empty
 * string, so the same key record always gives the same partition.
 */
export function keyString(key: object): string {
  return Object.values(key)
    .map((v) => (v === null || v === undefined ? '' : String(v)))
    .join('|');
}
