import { RegistryState, keyText, type LogKey } from './state.js';

const schemaA = JSON.stringify({ type: 'record', name: 'A', fields: [{ name: 'x', type: 'int' }] });
const schemaB = JSON.stringify({ type: 'record', name: 'B', fields: [{ name: 'y', type: 'int' }] });

type Rec = { offset: number; key: string; value: string | null };
const schemaRecord = (
  offset: number,
  subject: string,
  version: number,
  nonce: string,
  schema: string,
  id: number | null = null,
): Rec => ({
  offset,
  key: keyText({ keytype: 'SCHEMA', subject, version, nonce }),
  value: JSON.stringify({ subject, version, schema, schemaType: 'AVRO', id }),
});
const replay = (log: Rec[]) => {
  const s = new RegistryState();
  for (const r of log) s.apply(r.offset, r.key, r.value);
  return s;
};
/** Kafka log compaction: only the last record per key survives, at its own offset; tombstones then vanish. */
const compact = (log: Rec[]) => {
  const last = new Map<string, Rec>();
  for (const r of log) last.set(r.key, r);
  return [...last.values()].filter((r) => r.value !== null).sort((a, b) => a.offset - b.offset);
};

describe('RegistryState: ids and versions from log order', () => {
  it('gives ids from log offsets and the first writer of a version wins a race', () => {
    // Two instances both saw version 1 free and wrote at the same moment.
    const log = [schemaRecord(0, 's', 1, 'n1', schemaA), schemaRecord(1, 's', 1, 'n2', schemaB)];
    const a = replay(log);
    const b = replay(log);
    expect(a.outcome('n1')).toMatchObject({ accepted: true, entry: { id: 1, version: 1 } });
    expect(a.outcome('n2')).toMatchObject({ accepted: false });
    expect(b.versions('s').map((v) => [v.version, v.id])).toEqual(a.versions('s').map((v) => [v.version, v.id]));
    expect([...a.rejectedKeys]).toEqual([log[1]!.key]);
  });

  it('gives the same schema the same id in another subject, even when both raced', () => {
    const s = replay([schemaRecord(4, 'x', 1, 'n1', schemaA), schemaRecord(5, 'y', 1, 'n2', schemaA)]);
    expect(s.versions('x')[0]!.id).toBe(5);
    expect(s.versions('y')[0]!.id).toBe(5);
  });

  it('survives compaction: soft delete markers, tombstones and rejected attempts', () => {
    const log: Rec[] = [
      schemaRecord(0, 's', 1, 'n1', schemaA),
      schemaRecord(1, 's', 1, 'lost', schemaB), // lost the race
      { offset: 2, key: keyText({ keytype: 'SCHEMA', subject: 's', version: 1, nonce: 'lost' }), value: null }, // its cleanup
      schemaRecord(3, 's', 2, 'n3', schemaB),
      {
        offset: 4,
        key: keyText({ keytype: 'CONFIG', subject: 's', magic: 0 }),
        value: JSON.stringify({ compatibilityLevel: 'NONE' }),
      },
      {
        offset: 5,
        key: keyText({ keytype: 'DELETE_VERSION', nonce: 'n1' }),
        value: JSON.stringify({ subject: 's', version: 1 }),
      },
      {
        offset: 6,
        key: keyText({ keytype: 'CONFIG', subject: 's', magic: 0 }),
        value: JSON.stringify({ compatibilityLevel: 'FULL' }),
      },
    ];
    const before = replay(log);
    const after = replay(compact(log));
    const view = (s: RegistryState) => ({
      versions: s.versions('s', true).map((v) => [v.version, v.id, v.deleted]),
      config: s.configs.get('s'),
    });
    expect(view(after)).toEqual(view(before));
    expect(view(before)).toEqual({
      versions: [
        [1, 1, true],
        [2, 4, false],
      ],
      config: 'FULL',
    });
  });

  it('keeps versions increasing after a hard-deleted version is compacted away', () => {
    const log: Rec[] = [
      schemaRecord(0, 's', 1, 'n1', schemaA),
      schemaRecord(1, 's', 2, 'n2', schemaB),
      { offset: 2, key: keyText({ keytype: 'SCHEMA', subject: 's', version: 1, nonce: 'n1' }), value: null },
      schemaRecord(3, 's', 3, 'n3', schemaA),
    ];
    expect(
      replay(log)
        .versions('s')
        .map((v) => [v.version, v.id]),
    ).toEqual([
      [2, 2],
      [3, 4],
    ]);
    expect(
      replay(compact(log))
        .versions('s')
        .map((v) => [v.version, v.id]),
    ).toEqual([
      [2, 2],
      [3, 4],
    ]);
  });

  it('ignores a duplicate delivery of an accepted record and foreign records', () => {
    const r = schemaRecord(0, 's', 1, 'n1', schemaA);
    const s = replay([r, { ...r, offset: 1 }, { offset: 2, key: 'not json', value: 'x' }]);
    expect(s.versions('s')).toHaveLength(1);
    expect(s.rejectedKeys.size).toBe(0);
  });

  it('rejects an explicit id that belongs to another schema', () => {
    const key: LogKey = { keytype: 'SCHEMA', subject: 't', version: 1, nonce: 'n2' };
    const s = replay([
      schemaRecord(0, 's', 1, 'n1', schemaA),
      { offset: 1, key: keyText(key), value: JSON.stringify({ subject: 't', version: 1, schema: schemaB, id: 1 }) },
    ]);
    expect(s.outcome('n2')).toMatchObject({ accepted: false });
  });
});
