import { VirtualClock, type ComponentContext, type Logger } from '@optibid/runtime';

/** A logger that keeps what it was told, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; obj: unknown; msg?: string }[] } {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A component context on virtual time for connector tests. */
export function testContext(
  opts: { name?: string; now?: number; env?: NodeJS.ProcessEnv } = {},
): ComponentContext & { clock: VirtualClock; logger: ReturnType<typeof memoryLogger> } {
  return {
    name: opts.name ?? 'test',
    clock: new VirtualClock(opts.now ?? 0),
    logger: memoryLogger(),
    env: opts.env ?? {},
    signal: new AbortController().signal,
  };
}
