import type { Message } from 'kafkajs';
import { estimatedRecordBytes } from './direct-produce.js';

/** What `ProduceAhead` needs of a transaction. */
export interface SendingTransaction {
  send(byTopic: Map<string, Message[]>): Promise<void>;
}

/** Pending bytes (estimated) at which a processor transaction's outputs go out while the batch is still processed. */
export const defaultProduceAheadBytes = 512 * 1024;

/**
 * A processor transaction's outputs produced while the rest of its batch is processed. Messages are added per
 * chunk as they are encoded; once about `thresholdBytes` are pending they are sent in the background (the
 * transaction begun at that moment), each send chained after the one before, so every partition's messages
 * keep their order and the broker appends them while the next chunks are decoded and processed (before, the
 * worker waited for every Produce round trip after its last chunk). `finish` sends what is left and waits for
 * all of it; a failed background send makes the next `add` (or `finish`) throw, and `settle` waits for what
 * is in flight so the caller can abort the transaction. Nothing is visible to read-committed readers before
 * the commit, so sending early changes no outcome.
 */
export class ProduceAhead<T extends SendingTransaction> {
  private pending = new Map<string, Message[]>();
  private bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;
  private tx: T | undefined;
  /** Background sends not settled yet. */
  private inFlight = 0;
  /** Background sends started (tests, diagnostics). */
  sends = 0;

  /**
   * `mayBegin`: asked before the transaction would begin early; false holds the outputs back (the caller
   * uses it to keep a transaction from staying open through a long processing, past the broker's
   * transaction timeout). Once begun, pending outputs go out at every threshold.
   */
  constructor(
    private readonly start: () => Promise<T>,
    private readonly thresholdBytes = defaultProduceAheadBytes,
    private readonly mayBegin: () => boolean = () => true,
  ) {}

  /** Adds a topic's messages; sends what is pending in the background once it reaches the threshold. */
  async add(topic: string, messages: Message[]): Promise<void> {
    if (this.failure) throw this.failure.err;
    if (messages.length === 0) return;
    const have = this.pending.get(topic);
    if (!have) this.pending.set(topic, messages);
    else for (const m of messages) have.push(m);
    for (const m of messages) this.bytes += estimatedRecordBytes(m);
    if (this.bytes >= this.thresholdBytes && (this.tx !== undefined || this.mayBegin())) {
      const tx = await this.transaction();
      const part = this.take();
      this.sends++;
      this.inFlight++;
      this.chain = this.chain.then(() => tx.send(part));
      this.chain.then(
        () => this.inFlight--,
        (err: unknown) => {
          this.inFlight--;
          this.failure ??= { err };
        },
      );
    }
    // A batch's chunks are processed back to back without an I/O turn (every await resolves at once), so
    // the broker's answers to the sends in flight (and the next send of the chain) would wait until the
    // batch is done: give the event loop one turn per chunk while any is in flight.
    if (this.inFlight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Sends what is pending and waits for every send; returns the transaction (begun now if nothing went out yet). */
  async finish(): Promise<T> {
    const tx = await this.transaction();
    await this.chain;
    const part = this.take();
    if (part.size) await tx.send(part);
    return tx;
  }

  /** Waits for the sends in flight to settle (their errors ignored); the transaction, if one was begun. */
  async settle(): Promise<T | undefined> {
    await this.chain.catch(() => {});
    return this.tx;
  }

  /** The transaction, begun now if nothing went out yet. */
  begin(): Promise<T> {
    return this.transaction();
  }

  private async transaction(): Promise<T> {
    this.tx ??= await this.start();
    return this.tx;
  }

  private take(): Map<string, Message[]> {
    const part = this.pending;
    this.pending = new Map();
    this.bytes = 0;
    return part;
  }
}
