import type { ComponentContext } from '@optibid/runtime';
import { PollingSource, type PollingConfig, type PollingDeps, type PollingFeed } from './poller.js';

/** Reads a secret from the environment, or undefined when the variable is unset or empty. */
export function secretFromEnv(ctx: ComponentContext, variable: string | undefined): string | undefined {
  if (!variable) return undefined;
  const v = ctx.env[variable];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

/** Builds the polling source of a feed; `deps` lets tests inject offsets and a sleeper. */
export function pollingSource(
  feed: PollingFeed,
  cfg: PollingConfig,
  ctx: ComponentContext,
  deps?: PollingDeps,
): PollingSource {
  return new PollingSource(feed, cfg, ctx, deps);
}
