/** firewalld's reload signal over D-Bus, watched with dbus-monitor (no D-Bus library needed). */
import { spawn } from 'node:child_process';

export const RELOAD_MATCH = "type='signal',interface='org.fedoraproject.FirewallD1',member='Reloaded'";

/** True for the dbus-monitor line that announces the Reloaded signal. */
export const isReloadLine = (line: string): boolean => /member=Reloaded\b/.test(line) && /FirewallD1/.test(line);

export function watchFirewalldReloads(onReload: () => void, log: (m: string) => void): () => void {
  const child = spawn('dbus-monitor', ['--system', RELOAD_MATCH], { stdio: ['ignore', 'pipe', 'ignore'] });
  let buffer = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    if (lines.some(isReloadLine)) onReload();
  });
  child.on('error', (e) => log(`firewalld reload watch unavailable: ${e.message}`));
  return () => child.kill();
}
