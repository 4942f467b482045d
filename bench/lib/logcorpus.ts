/**
 * Synthetic kernel log lines in the nf_log format (what iptables LOG and nftables log write), in the
 * framings lanfence reads, with the mix a busy host produces: IPv4 and IPv6; TCP SYNs, UDP, ICMP;
 * forward and input path; other kernel messages; a little garbage. Sources are the inventory's
 * container addresses (and some unknown ones), destinations private addresses and the host.
 */
import type { Inventory } from '../../src/inventory/types.js';

export const LOG_PREFIX = 'DOCKER_NET_DROP: ';

/** A small deterministic PRNG (mulberry32), so every run parses the same corpus. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CorpusMix {
  /** Fractions; the rest is kmsg IPv4 forward-path lines. */
  ipv4Input: number;
  ipv6: number;
  journal: number;
  syslog: number;
  other: number;
  garbage: number;
}

export const DEFAULT_MIX: CorpusMix = { ipv4Input: 0.1, ipv6: 0.15, journal: 0.05, syslog: 0.05, other: 0.08, garbage: 0.02 };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export type LineKind = 'kmsg-ipv4' | 'kmsg-ipv4-input' | 'kmsg-ipv6' | 'journal' | 'syslog' | 'other' | 'garbage';

export function logCorpus(count: number, inventory: Inventory, mix: CorpusMix = DEFAULT_MIX, seed = 7): string[] {
  return taggedLogCorpus(count, inventory, mix, seed).map((x) => x.line);
}

/** The corpus with each line's kind. */
export function taggedLogCorpus(count: number, inventory: Inventory, mix: CorpusMix = DEFAULT_MIX, seed = 7): { line: string; kind: LineKind }[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
  const sources = inventory.containers.flatMap((c) => c.networks.map((a) => ({ ip: a.ipv4!, bridge: inventory.networks.find((n) => n.name === a.network)?.bridge ?? 'docker0' })));
  const dst4 = () => pick([`10.${int(0, 3)}.${int(0, 255)}.${int(1, 254)}`, `192.168.${int(0, 3)}.${int(1, 254)}`, `172.20.${int(0, 9)}.${int(1, 254)}`, `100.64.${int(0, 3)}.${int(1, 254)}`, '169.254.169.254']);
  const ports = [22, 53, 80, 443, 2375, 3306, 5432, 6379, 8080, 9100, 9200, 11211];
  const line4 = (input: boolean): string => {
    const s = r() < 0.9 && sources.length ? pick(sources) : { ip: `172.17.${int(200, 250)}.${int(2, 250)}`, bridge: 'docker0' };
    const dst = input ? pick(['172.17.0.1', `172.18.${int(0, 7)}.1`, '192.168.57.2']) : dst4();
    const head = `IN=${s.bridge} OUT=${input ? '' : 'enp1s0'} PHYSIN=veth${hex(7)} MAC=02:42:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:02:42:ac:11:00:02:08:00 SRC=${s.ip} DST=${dst}`;
    const p = r();
    if (p < 0.5) return `${head} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${int(1, 65535)} DF PROTO=TCP SPT=${int(32768, 60999)} DPT=${pick(ports)} WINDOW=64240 RES=0x00 SYN URGP=0 `;
    if (p < 0.85) return `${head} LEN=${int(40, 120)} TOS=0x00 PREC=0x00 TTL=63 ID=${int(1, 65535)} DF PROTO=UDP SPT=${int(32768, 60999)} DPT=${pick([53, 123, 161, 514, 5353])} LEN=${int(20, 100)} `;
    return `${head} LEN=84 TOS=0x00 PREC=0x00 TTL=63 ID=${int(1, 65535)} DF PROTO=ICMP TYPE=8 CODE=0 ID=${int(1, 65535)} SEQ=${int(1, 500)} `;
  };
  const line6 = (): string => {
    const head = `IN=br-${hex(12)} OUT=${r() < 0.8 ? 'enp1s0' : ''} MAC=02:42:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:02:42:ac:14:03:02:86:dd SRC=fd00:${int(17, 30)}::${hex(1)}${int(2, 99)} DST=${pick(['fd57::5', `fd12:${hex(4)}::${hex(2)}`, 'fe80::1', 'fd57:17::5'])}`;
    const p = r();
    if (p < 0.5) return `${head} LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=${int(1, 1048575)} PROTO=TCP SPT=${int(32768, 60999)} DPT=${pick(ports)} WINDOW=64800 RES=0x00 SYN URGP=0 `;
    if (p < 0.85) return `${head} LEN=${int(48, 120)} TC=0 HOPLIMIT=63 FLOWLBL=${int(1, 1048575)} PROTO=UDP SPT=${int(32768, 60999)} DPT=53 LEN=${int(20, 80)} `;
    return `${head} LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=${int(1, 1048575)} PROTO=ICMPv6 TYPE=128 CODE=0 ID=${int(1, 65535)} SEQ=${int(1, 500)} `;
  };
  const out: { line: string; kind: LineKind }[] = [];
  let seq = 100_000;
  let usec = 2_931_302_630;
  for (let i = 0; i < count; i++) {
    seq++;
    usec += int(10, 5000);
    const kmsg = (msg: string, pri = 4) => `${pri},${seq},${usec},-;${msg}`;
    const p = r();
    let acc = mix.ipv4Input;
    if (p < acc) {
      out.push({ line: kmsg(LOG_PREFIX + line4(true)), kind: 'kmsg-ipv4-input' });
      continue;
    }
    if (p < (acc += mix.ipv6)) {
      out.push({ line: kmsg(LOG_PREFIX + line6()), kind: 'kmsg-ipv6' });
      continue;
    }
    if (p < (acc += mix.journal)) {
      out.push({ line: JSON.stringify({ MESSAGE: LOG_PREFIX + line4(false), __REALTIME_TIMESTAMP: String(1_795_915_440_000_000 + usec), _TRANSPORT: 'kernel', PRIORITY: '4', SYSLOG_IDENTIFIER: 'kernel' }), kind: 'journal' });
      continue;
    }
    if (p < (acc += mix.syslog)) {
      out.push({ kind: 'syslog', line: `${pick(MONTHS)} ${String(int(1, 28)).padStart(2, ' ')} ${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')} dockerhost kernel: [${(usec / 1e6).toFixed(6)}] ${LOG_PREFIX}${line4(false)}` });
      continue;
    }
    if (p < (acc += mix.other)) {
      out.push({ kind: 'other', line: kmsg(pick([`docker0: port ${int(1, 9)}(veth${hex(7)}) entered forwarding state`, `br-${hex(12)}: port 2(veth${hex(7)}) entered disabled state`, `eth0: renamed from veth${hex(7)}`, `IPv6: ADDRCONF(NETDEV_CHANGE): veth${hex(7)}: link becomes ready`]), 6) });
      continue;
    }
    if (p < (acc += mix.garbage)) {
      out.push({
        kind: 'garbage',
        line: pick([
          kmsg(`${LOG_PREFIX}IN=docker0 OUT=enp1s0 SRC=172.17.`),
          kmsg(`${LOG_PREFIX}IN=docker0 OUT=enp1s0 SRC=not-an-address DST=10.0.0.1 PROTO=TCP SPT=1 DPT=2 `),
          `${LOG_PREFIX}${hex(40)}`,
          `{"MESSAGE": "${LOG_PREFIX}IN=`,
          kmsg(`${LOG_PREFIX}IN=docker0 OUT=enp1s0 SRC=172.17.0.2 DST=10.0.0.1 LEN=60 PROTO=TCP SPT=99999999999 DPT=x `),
        ]),
      });
      continue;
    }
    out.push({ line: kmsg(LOG_PREFIX + line4(false)), kind: 'kmsg-ipv4' });
  }
  return out;
}
