/**
 * Probes from inside a lab network namespace: a container's (`nsenter --net=/proc/<pid>/ns/net`,
 * faster than `docker exec` and independent of what the image holds) or a lab namespace's.
 * One helper process per source runs all its probes in parallel (bounded), with short timeouts,
 * so a full matrix takes about as long as the slowest single probe.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { commandLine } from '../exec.js';
import { LAB_DIR, NODE, type Lab, type LabContainer } from './lab.js';

export const PROBE_HELPER = join(LAB_DIR, 'probe-helper.mjs');
/** Per probe: TCP connect / UDP echo wait; ICMP waits whole seconds (`ping -W`). */
export const PROBE_TIMEOUT_MS = 1200;
/** For the second look at a cell that seemed closed but should be open (a busy machine is slow, a drop is not). */
export const RETRY_TIMEOUT_MS = 3000;

export type ProbeKind = 'tcp' | 'udp' | 'icmp';

export interface Probe {
  kind: ProbeKind;
  addr: string;
  /** TCP/UDP only. */
  port?: number;
}

/** `open`: connected / echo came back. Everything else counts as closed. */
export type Outcome = 'open' | 'refused' | 'unreachable' | 'timeout' | 'error';

export interface ProbeResult {
  outcome: Outcome;
  detail: string;
  ms: number;
}

export interface ProbeSource {
  /** For tables and messages: container name or `LAN`. */
  label: string;
  /** The network namespace file to enter. */
  netns: string;
}

export const containerSource = (c: LabContainer): ProbeSource => ({ label: c.name, netns: `/proc/${c.pid}/ns/net` });
export const lanSource = (lab: Lab): ProbeSource => ({ label: 'LAN', netns: lab.nsPath('lan') });

export const probeText = (p: Pick<Probe, 'kind' | 'port'>): string => (p.kind === 'icmp' ? 'icmp' : `${p.kind}/${p.port}`);

/** The exact command that repeats one probe by hand (exit 0 = open). */
export function reproduceCommand(source: ProbeSource, p: Probe): string {
  if (p.kind === 'icmp') return commandLine('nsenter', [`--net=${source.netns}`, 'busybox', 'ping', '-c', '1', '-W', '1', p.addr]);
  return commandLine('nsenter', [`--net=${source.netns}`, 'node', PROBE_HELPER, p.kind, p.addr, String(p.port)]);
}

/** Runs every probe of one source in one helper process. Results are in the order of `probes`. */
export function probeFrom(source: ProbeSource, probes: Probe[], timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult[]> {
  if (probes.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${source.netns}`, NODE, PROBE_HELPER, '--batch'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LAB_PROBE_TIMEOUT_MS: String(timeoutMs) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`probe helper in ${source.label} (${source.netns}) exited ${code}: ${err.trim()}`));
      try {
        const raw = JSON.parse(out) as { id: number; result: Outcome; detail: string; ms: number }[];
        const byId = new Map(raw.map((r) => [r.id, r]));
        resolve(probes.map((_, i) => {
          const r = byId.get(i);
          return r ? { outcome: r.result, detail: r.detail, ms: r.ms } : { outcome: 'error', detail: 'no result', ms: 0 };
        }));
      } catch (e) {
        reject(new Error(`probe helper in ${source.label}: unreadable output (${(e as Error).message}): ${out.slice(0, 200)} ${err}`));
      }
    });
    child.stdin.end(JSON.stringify(probes.map((p, id) => ({ id, ...p }))));
  });
}

/** Runs several sources' probes concurrently. */
export function probeAll(batches: { source: ProbeSource; probes: Probe[] }[], timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult[][]> {
  return Promise.all(batches.map((b) => probeFrom(b.source, b.probes, timeoutMs)));
}
