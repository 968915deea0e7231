/**
 * Where a read-committed group member starts on the partitions it was given: the group's committed offsets,
 * looked up until every partition answers with a stable one. Transport-neutral: the rdkafka transport looks
 * them up with librdkafka's `committed()` (runtime/rdkafka/committed.ts), the kafkajs transport with its own
 * OffsetFetch v7 asking for stable offsets (group-offsets.ts).
 *
 * Why: while another producer's open transaction holds this group's offsets for a partition (a worker that lost
 * the partition in mid-transaction, or one that crashed and is not fenced yet), the broker answers a lookup of
 * stable offsets with UNSTABLE_OFFSET_COMMIT (KIP-447). Starting anywhere else then (the last committed offset
 * before the transaction, or the log start) would process records a second time once that transaction commits.
 * So an unstable partition is asked again until the transaction ends, however long that takes; the transaction
 * timeout bounds it.
 */

/** A partition and where to start reading it: a committed offset, or the log start when the group has none. */
export interface StartPosition {
  topic: string;
  partition: number;
  offset: number | 'beginning';
}

/**
 * A committed-offset lookup (node-rdkafka's `committed`, or the kafkajs transport's OffsetFetch v7): per requested
 * partition, in order, its committed offset (absent: none) or an Error (UNSTABLE_OFFSET_COMMIT, ...).
 */
export type CommittedLookup = (
  partitions: Array<{ topic: string; partition: number }>,
  timeoutMs: number,
) => Promise<Array<{ offset?: number } | Error>>;

export interface StartPositionOptions {
  /** Per lookup (ms; default 5000). */
  timeoutMs?: number;
  /** Waits between lookups (real ms). */
  sleep: (ms: number) => Promise<void>;
  /** False once the partitions are no longer wanted (revoked, stopping): gives up and returns undefined. */
  stillWanted: () => boolean;
  /** Told about each lookup that has to be repeated, with the reason and the partitions concerned. */
  onRetry?: (info: {
    attempt: number;
    reason: string;
    partitions: Array<{ topic: string; partition: number }>;
  }) => void;
}

/**
 * The start position of every partition in `partitions`, looked up until all are known: a lookup that fails as a
 * whole, or that returns an error for some partition (UNSTABLE_OFFSET_COMMIT while a transaction holds the
 * offset), is repeated after 100 ms, doubling to at most 2 s. Returns undefined once `stillWanted()` is false.
 */
export async function startPositions(
  lookup: CommittedLookup,
  partitions: Array<{ topic: string; partition: number }>,
  opts: StartPositionOptions,
): Promise<StartPosition[] | undefined> {
  const found = new Map<string, StartPosition>();
  let todo = partitions.map(({ topic, partition }) => ({ topic, partition }));
  let backoff = 100;
  for (let attempt = 1; todo.length; attempt++) {
    if (!opts.stillWanted()) return undefined;
    let reason: string;
    try {
      const answers = await lookup(todo, opts.timeoutMs ?? 5000);
      const failed: typeof todo = [];
      const errors = new Set<string>();
      todo.forEach((p, i) => {
        const a = answers[i];
        if (a === undefined || a instanceof Error) {
          failed.push(p);
          errors.add(a?.message ?? 'no answer');
          return;
        }
        found.set(`${p.topic}\u0000${p.partition}`, {
          ...p,
          offset: typeof a.offset === 'number' && a.offset >= 0 ? a.offset : 'beginning',
        });
      });
      if (!failed.length) break;
      todo = failed;
      reason = [...errors].join('; ');
    } catch (err) {
      reason = (err as Error).message;
    }
    opts.onRetry?.({ attempt, reason, partitions: todo });
    await opts.sleep(backoff);
    backoff = Math.min(2000, backoff * 2);
  }
  if (!opts.stillWanted()) return undefined;
  return partitions.map((p) => found.get(`${p.topic}\u0000${p.partition}`)!);
}

/** The log level of the `attempt`-th repeated lookup: info at first, warn every 10th (a lasting error), else debug. */
export function retryLogLevel(attempt: number): 'info' | 'warn' | 'debug' {
  return attempt === 1 ? 'info' : attempt % 10 === 0 ? 'warn' : 'debug';
}

/** The message both transports log with a repeated lookup (tests wait for it). */
export const waitingForOffsetsMessage =
  'committed offsets not readable yet (an open transaction may hold them); asking again';
