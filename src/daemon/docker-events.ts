/** Docker events that change what lanfence renders (dockerode event stream). */
import type Docker from 'dockerode';

const RELEVANT: Record<string, Set<string>> = {
  container: new Set(['start', 'die', 'destroy', 'rename', 'update']),
  network: new Set(['create', 'destroy', 'connect', 'disconnect']),
};

/** Parses one event line; null for anything irrelevant or malformed (never throws). */
export function relevantEvent(line: string): string | null {
  try {
    const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
    if (!e.Type || !e.Action || !RELEVANT[e.Type]?.has(e.Action)) return null;
    return `${e.Type} ${e.Action}${e.Actor?.Attributes?.name ? ` ${e.Actor.Attributes.name}` : ''}`;
  } catch {
    return null;
  }
}

export function dockerSubscriber(docker: Docker) {
  return async (onEvent: (what: string) => void, onEnd: (err?: Error) => void): Promise<() => void> => {
    const stream = (await docker.getEvents({ filters: JSON.stringify({ type: ['container', 'network'] }) })) as NodeJS.ReadableStream & { destroy?: () => void };
    let buffer = '';
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const what = relevantEvent(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (what) onEvent(what);
      }
    });
    stream.on('end', () => end());
    stream.on('close', () => end());
    stream.on('error', (e: Error) => end(e));
    return () => {
      ended = true;
      stream.destroy?.();
    };
  };
}
