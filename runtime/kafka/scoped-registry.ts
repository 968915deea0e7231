/**
 * Per-id registrations for the kafkajs patches (lean fetch, lean produce, offset-reset guard): a patch is
 * installed once per process and acts only for the ids registered here; the latest registration of an
 * id wins, and each registration's undo removes exactly that one (idempotent).
 */
export interface ScopedRegistry<T> {
  /** Registers `value` for `id`; returns the function that removes this registration. */
  register(id: string, value: T): () => void;
  /** The latest value registered for `id`, or undefined. */
  current(id: string): T | undefined;
}

export function scopedRegistry<T>(): ScopedRegistry<T> {
  const byId = new Map<string, Array<{ value: T }>>();
  return {
    register(id, value) {
      const entry = { value };
      byId.set(id, [...(byId.get(id) ?? []), entry]);
      return () => {
        const left = (byId.get(id) ?? []).filter((e) => e !== entry);
        if (left.length) byId.set(id, left);
        else byId.delete(id);
      };
    },
    current(id) {
      const list = byId.get(id);
      return list?.[list.length - 1]?.value;
    },
  };
}
