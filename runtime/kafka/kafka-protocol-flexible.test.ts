import {
  FlexibleReader,
  FlexibleWriter,
  decodeOffsetFetchV7,
  decodeTxnOffsetCommitV3,
  encodeOffsetFetchV7,
  encodeTxnOffsetCommitV3,
} from './kafka-protocol-flexible.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('flexible encoding primitives', () => {
  it('writes unsigned varints 7 bits a byte, low bits first', () => {
    const cases: Array<[number, string]> = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [16384, '808001'],
      [0xffffffff, 'ffffffff0f'],
    ];
    for (const [n, bytes] of cases) {
      expect(new FlexibleWriter().uvarint(n).bytes().toString('hex')).toBe(bytes);
      expect(new FlexibleReader(hex(bytes)).uvarint()).toBe(n);
    }
    expect(() => new FlexibleWriter().uvarint(-1)).toThrow(RangeError);
    expect(() => new FlexibleReader(hex('ffffffffff01')).uvarint()).toThrow(/longer than 5 bytes/);
  });

  it('writes compact strings and arrays as length + 1 (0 for null), UTF-8 measured in bytes', () => {
    const w = new FlexibleWriter()
      .compactString('')
      .compactString(null)
      .compactString('ab')
      .compactString('é')
      .compactArray([7, 8], (x, v) => x.int32(v))
      .compactArray(null, (x, v: number) => x.int32(v));
    expect(w.bytes().toString('hex')).toBe(
      ['01', '00', '036162', '03c3a9', '03' + '00000007' + '00000008', '00'].join(''),
    );
    const r = new FlexibleReader(w.bytes());
    expect(r.compactString()).toBe('');
    expect(r.compactString()).toBeNull();
    expect(r.compactString()).toBe('ab');
    expect(r.compactString()).toBe('é');
    expect(r.compactArray((x) => x.int32())).toEqual([7, 8]);
    expect(r.compactArray((x) => x.int32())).toBeNull();
    expect(r.remaining).toBe(0);
  });

  it('round-trips fixed-width integers, 64-bit ones as decimal strings beyond 2^53', () => {
    const w = new FlexibleWriter().int8(-2).bool(true).int16(-300).int32(-70000).int64('9007199254740993').int64(-1);
    const r = new FlexibleReader(w.bytes());
    expect([r.int8(), r.bool(), r.int16(), r.int32(), r.int64(), r.int64()]).toEqual([
      -2,
      true,
      -300,
      -70000,
      '9007199254740993',
      '-1',
    ]);
  });

  it('grows past its first buffer', () => {
    const long = 'x'.repeat(1000);
    const r = new FlexibleReader(new FlexibleWriter().compactString(long).int32(5).bytes());
    expect(r.compactString()).toBe(long);
    expect(r.int32()).toBe(5);
  });

  it('skips tagged fields, and says what ran short on truncated input', () => {
    // two tagged fields: tag 0 with 2 bytes, tag 3 with 1 byte; then an int16
    const r = new FlexibleReader(hex('02 00 02 aaaa 03 01 bb 0007'));
    r.skipTags();
    expect(r.int16()).toBe(7);
    expect(() => new FlexibleReader(hex('0000')).int32()).toThrow(/truncated int32 at byte 0/);
    expect(() => new FlexibleReader(hex('05 6162')).compactString()).toThrow(/truncated string/);
    expect(() => new FlexibleReader(hex('01 00 05 aa')).skipTags()).toThrow(/truncated tagged field/);
  });
});

describe('OffsetFetch v7', () => {
  it('encodes group, topics and require_stable in the layout of OffsetFetchRequest v7', () => {
    const body = encodeOffsetFetchV7({
      groupId: 'g',
      topics: [{ topic: 't', partitions: [0, 1] }],
      requireStable: true,
    });
    expect(body.toString('hex')).toBe(
      [
        '00', // request header v2: no tagged fields
        '0267', // group id "g"
        '02', // one topic
        '0274', // name "t"
        '03', // two partition indexes
        '00000000',
        '00000001',
        '00', // topic: no tagged fields
        '01', // require_stable
        '00', // request: no tagged fields
      ].join(''),
    );
  });

  it('decodes committed offsets, the leader epoch, metadata and per-partition errors (88: unstable)', () => {
    const payload = hex(
      [
        '01 05 02 aaaa', // response header v1: one tagged field (skipped)
        '00000000', // throttle
        '02', // one topic
        '0274', // "t"
        '03', // two partitions
        '00000000 0000000000000096 ffffffff 01 0000 00', // p0: 150, epoch -1, metadata "", no error
        '00000001 ffffffffffffffff ffffffff 00 0058 00', // p1: -1, metadata null, UNSTABLE_OFFSET_COMMIT
        '00', // topic tags
        '0000', // group error
        '00', // tags
      ].join(''),
    );
    expect(decodeOffsetFetchV7(payload)).toEqual({
      throttleTimeMs: 0,
      errorCode: 0,
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '150', leaderEpoch: -1, metadata: '', errorCode: 0 },
            { partition: 1, offset: '-1', leaderEpoch: -1, metadata: null, errorCode: 88 },
          ],
        },
      ],
    });
  });

  it('rejects a response cut short', () => {
    expect(() => decodeOffsetFetchV7(hex('00 00000000 02 0274 02 00000000'))).toThrow(/truncated int64/);
  });
});

describe('TxnOffsetCommit v3', () => {
  it('encodes the member id, generation and group instance id in the layout of TxnOffsetCommitRequest v3', () => {
    const body = encodeTxnOffsetCommitV3({
      transactionalId: 'tx',
      groupId: 'g',
      producerId: '5',
      producerEpoch: 2,
      generationId: 7,
      memberId: 'm-1',
      groupInstanceId: null,
      topics: [{ topic: 't', partitions: [{ partition: 3, offset: '42' }] }],
    });
    expect(body.toString('hex')).toBe(
      [
        '00', // request header v2: no tagged fields
        '037478', // transactional id "tx"
        '0267', // group id "g"
        '0000000000000005', // producer id
        '0002', // producer epoch
        '00000007', // generation id
        '046d2d31', // member id "m-1"
        '00', // group instance id: null
        '02', // one topic
        '0274', // "t"
        '02', // one partition
        '00000003', // partition index
        '000000000000002a', // committed offset 42
        'ffffffff', // committed leader epoch: -1
        '00', // committed metadata: null
        '00', // partition: no tagged fields
        '00', // topic: no tagged fields
        '00', // request: no tagged fields
      ].join(''),
    );
  });

  it('decodes per-partition errors (22: illegal generation)', () => {
    const payload = hex('00 00000064 02 0274 03 00000000 0016 00 00000001 0000 00 00 00');
    expect(decodeTxnOffsetCommitV3(payload)).toEqual({
      throttleTimeMs: 100,
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, errorCode: 22 },
            { partition: 1, errorCode: 0 },
          ],
        },
      ],
    });
  });
});
