/**
 * Processes and network namespaces the benchmark creates — and removes again, also when a step
 * fails or the process is interrupted. Nothing here touches the machine's own network namespace:
 * every command that loads rules or sends traffic runs inside a namespace made here.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (no shell); never throws for a non-zero exit. */
export function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ShResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 512 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : '') });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like sh, but throws with the command line and stderr when it fails. */
export async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 2000)}`);
  return r.stdout;
}

/** `ip netns exec NS cmd args...` */
export const inNs = (ns: string, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> =>
  must('ip', ['netns', 'exec', ns, cmd, ...args], opts);

const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let hooked = false;

/** Removes every namespace and stops every child process this benchmark created. Idempotent. */
export function cleanupAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  children.clear();
  for (const f of cleanups) {
    try {
      f();
    } catch {
      /* best effort */
    }
  }
  cleanups.clear();
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  namespaces.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupAll();
      process.exit(130);
    });
  }
}

/** Registers a synchronous cleanup run by cleanupAll (and at exit). Returns its unregister function. */
export function onCleanup(f: () => void): () => void {
  hookExit();
  cleanups.add(f);
  return () => cleanups.delete(f);
}

/** Creates a network namespace `lfb-<role>-<random>` with loopback up. */
export async function createNs(role: string): Promise<string> {
  hookExit();
  const ns = `lfb-${role}-${randomBytes(3).toString('hex')}`;
  await must('ip', ['netns', 'add', ns]);
  namespaces.add(ns);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

export async function deleteNs(ns: string): Promise<void> {
  namespaces.delete(ns);
  await sh('ip', ['netns', 'del', ns]);
}

/** Starts a long-running child that cleanupAll kills. */
export function startChild(cmd: string, args: string[], opts: { stdin?: boolean } = {}): ChildProcess {
  hookExit();
  const child = spawn(cmd, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The names of the tools a section needs that are not installed. */
export async function missingTools(tools: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const t of tools) if ((await sh('sh', ['-c', `command -v ${t}`])).code !== 0) missing.push(t);
  return missing;
}
