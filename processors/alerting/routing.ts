import type { ReceiverSpec, RouteSpec } from './rules-schema.js';

/** Where one alert goes: receivers (with their channel kinds) and the notification group it belongs to. */
export interface RouteResult {
  receivers: ReceiverSpec[];
  /** Alerts with the same group key are one notification group (same route, same groupBy label values). */
  groupKey: string;
}

function matches(route: RouteSpec, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(route.match ?? {})) if (labels[k] !== v) return false;
  for (const [k, re] of Object.entries(route.matchRe ?? {}))
    if (!new RegExp(`^(?:${re})$`).test(labels[k] ?? '')) return false;
  return true;
}

/**
 * An Alertmanager-style routing tree: an alert descends into the first child route whose matchers
 * hold (and into later siblings too while matched routes say `continue: true`); the deepest matching
 * routes name the receivers. `receiver` and `groupBy` are inherited from the parent.
 */
export class Router {
  private readonly receivers: Map<string, ReceiverSpec>;

  constructor(
    private readonly root: RouteSpec | undefined,
    receivers: ReceiverSpec[],
  ) {
    this.receivers = new Map(receivers.map((r) => [r.name, r]));
  }

  route(labels: Record<string, string>): RouteResult[] {
    if (!this.root) return [];
    const results: RouteResult[] = [];
    this.walk(this.root, labels, this.root.receiver, this.root.groupBy ?? [], 'route', results);
    return results;
  }

  private walk(
    node: RouteSpec,
    labels: Record<string, string>,
    receiver: string | undefined,
    groupBy: string[],
    path: string,
    out: RouteResult[],
  ): void {
    let matchedChild = false;
    for (const [i, child] of (node.routes ?? []).entries()) {
      if (!matches(child, labels)) continue;
      matchedChild = true;
      this.walk(child, labels, child.receiver ?? receiver, child.groupBy ?? groupBy, `${path}.${i}`, out);
      if (!child.continue) break;
    }
    if (matchedChild || receiver === undefined) return;
    const spec = this.receivers.get(receiver);
    const group = groupBy.map((l) => `${l}=${labels[l] ?? ''}`).join(',');
    out.push({ receivers: spec ? [spec] : [{ name: receiver, channel: 'webhook' }], groupKey: `${path}:{${group}}` });
  }
}
