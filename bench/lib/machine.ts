/** What the figures were measured on. */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { sh } from './sys.js';

export interface Machine {
  nproc: number;
  cpuModel: string;
  avx2: boolean;
  memoryGiB: number;
  kernel: string;
  node: string;
  nft: string;
  iptables: string;
  ipset: string;
  sockperf: string;
  /** /proc/loadavg when the run started and ended: other work on the machine shares its CPUs. */
  loadavgStart: string;
  loadavgEnd?: string;
  /** The code measured: HEAD, and the files under src/ that differed from it when the run started. */
  git: { commit: string; dirtySrc: string[] };
}

const first = async (cmd: string, args: string[]) => {
  const r = await sh(cmd, args);
  return (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
};

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpus().length,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    avx2: /\bavx2\b/.test(cpuinfo),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    nft: await first('nft', ['--version']),
    iptables: await first('iptables', ['--version']),
    ipset: await first('ipset', ['--version']),
    sockperf: (await first('sockperf', ['--version'])).replace(/^sockperf,\s*/, ''),
    loadavgStart: loadavg(),
    git: {
      commit: (await first('git', ['rev-parse', '--short', 'HEAD'])) || 'unknown',
      dirtySrc: (await sh('git', ['status', '--porcelain', '--', 'src'])).stdout.split('\n').filter(Boolean),
    },
  };
}

export const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
