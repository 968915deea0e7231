import { Type } from '@sinclair/typebox';
import { OptiBidError, defineProcessor } from '@optibid/runtime';

/**
 * `table-join`: enriches a stream with the latest value per key of a table topic (for example
 * telemetry readings with the asset registry). The table topic is one of the processor's inputs and
 * must be co-partitioned with the stream (same key, same partition count); its latest value per key
 * lives in keyed state, so it survives restarts through the changelog. A null table value deletes the key.
 */
export const tableJoinDefinition = defineProcessor({
  name: 'table-join',
  status: 'beta',
  summary: 'Stream-table join: adds the latest table value for the record key under a field',
  config: Type.Object(
    {
      table: Type.String({ description: 'the input topic holding the table (latest value per key)' }),
      as: Type.String({ description: 'field of the output value that receives the table value' }),
      inner: Type.Optional(
        Type.Boolean({
          description: 'drop stream records without a table value (default false: left join, field set to null)',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  create: (cfg) => ({
    process(r, ctx) {
      if (r.topic === cfg.table) {
        if (r.key === null) throw new OptiBidError('OPTIBID_ERR_RECORD', `table record on ${r.topic} has no key`);
        if (r.value === null || r.value === undefined) ctx.state.delete(r.key);
        else ctx.state.put(r.key, r.value);
        return;
      }
      const row = r.key === null ? undefined : ctx.state.get(r.key);
      if (row === undefined && cfg.inner) return;
      if (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)) {
        throw new OptiBidError('OPTIBID_ERR_RECORD', `stream record value must be an object to add field "${cfg.as}"`);
      }
      ctx.emit({
        key: r.key,
        value: { ...(r.value as object), [cfg.as]: row ?? null },
        timestamp: r.timestamp,
        headers: r.headers,
      });
    },
  }),
});
