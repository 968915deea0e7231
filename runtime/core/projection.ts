/**
 * Value projections of the processors running in this process, by component name: the Kafka decoders
 * (`kafka/codec.ts`) look the projection of the component whose records they decode up here, so a
 * processor that declares the fields it reads (`ProcessorDefinition.valueFields`) gets records built with
 * just those, without the transports passing anything new along. `ProcessorCore.create` registers its
 * processor's projection and `close` removes it.
 *
 * Several live cores may share a component name (two pipelines in one process, tests): the decoders then
 * get the union of their fields, or no projection at all when any of them reads whole values. A superset
 * is always safe: a projection only says which fields must be there.
 */

type Fields = readonly string[] | undefined;

/** Registrations per component name (one entry per live core; `undefined` = whole values). */
const registered = new Map<string, Array<{ fields: Fields }>>();
/** What the decoders get per component name: one array per change of the registrations (a stable identity). */
const effective = new Map<string, Fields>();

function recompute(component: string): void {
  const list = registered.get(component);
  if (list === undefined || list.length === 0) {
    registered.delete(component);
    effective.delete(component);
    return;
  }
  if (list.some((r) => r.fields === undefined)) {
    effective.set(component, undefined);
    return;
  }
  const union = new Set<string>();
  for (const r of list) for (const f of r.fields!) union.add(f);
  effective.set(component, Object.freeze([...union]));
}

/**
 * Registers the projection of a live processor named `component` (undefined: it reads whole values);
 * returns the call that removes it (idempotent).
 */
export function registerProjection(component: string, fields: Fields): () => void {
  const entry = { fields: fields === undefined ? undefined : Object.freeze([...fields]) };
  let list = registered.get(component);
  if (list === undefined) registered.set(component, (list = []));
  list.push(entry);
  recompute(component);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const now = registered.get(component);
    const i = now?.indexOf(entry) ?? -1;
    if (i >= 0) now!.splice(i, 1);
    recompute(component);
  };
}

/**
 * The fields the decoders may limit `component`'s input values to, or undefined for whole values (no
 * live core of that name, or one that reads whole values). The same array is returned until the
 * registrations change.
 */
export function projectionOf(component: string): readonly string[] | undefined {
  return effective.get(component);
}
