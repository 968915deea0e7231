import { RegistryState, keyText, type LogKey } from './state.js';

/** One record to append to the registry log; `value: null` is a tombstone. */
export interface LogRecord {
  key: LogKey;
  value: object | null;
}

/**
 * Where the registry's log lives. Both stores feed every record, in log order, to the same
 * `RegistryState`, so the state (ids, versions, configs) is a function of the log alone.
 */
export interface RegistryStore {
  readonly state: RegistryState;
  /** Human-readable description for logs and `--help`: `memory`, `kafka topic _schemas on 127.0.0.1:9092`. */
  readonly description: string;
  /** Connects and replays the existing log. */
  start(): Promise<void>;
  /** Resolves once every record written (by anyone) before the call has been applied. */
  sync(): Promise<void>;
  /** Appends records in order; resolves once they have been read back and applied. */
  append(records: LogRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** The log as an in-process array: for tests and `optibid registry --store memory`. Lost on exit. */
export class MemoryStore implements RegistryStore {
  readonly state = new RegistryState();
  readonly description = 'memory (lost on exit)';
  private offset = 0;

  async start(): Promise<void> {}
  async sync(): Promise<void> {}

  async append(records: LogRecord[]): Promise<void> {
    for (const r of records) {
      this.state.apply(this.offset++, keyText(r.key), r.value === null ? null : JSON.stringify(r.value));
    }
    // Nobody else writes here, so rejected attempts are cleaned up at once.
    for (const key of [...this.state.rejectedKeys]) this.state.apply(this.offset++, key, null);
  }

  async close(): Promise<void> {}
}
