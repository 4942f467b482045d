/**
 * Checks rendered firewalld direct rules against the kernel without touching the live host.
 *
 * firewalld itself is not asked: it would need its D-Bus service and would validate against the
 * running configuration. Instead the direct configuration is translated into what firewalld feeds
 * the kernel — iptables-restore / ip6tables-restore input — and loaded inside a throwaway network
 * namespace (`unshare --net`), which vanishes with the shell. `--test` alone is not enough:
 * iptables-nft only parses with `--test` (measured: a TCPMSS rule without `-p tcp` passes
 * `--test` and fails on load), so the file is parsed with `--test` first and then really loaded.
 */
import { inThrowawayNetns } from '../throwaway.js';
import type { Runner } from '../../exec.js';
import type { CheckResult, Rendered } from '../types.js';
import type { DirectEntry, IpFamily } from './render.js';
import { parseFirewalldScript } from './script.js';

/** Quotes one argument the way iptables-restore reads it. */
function restoreArg(a: string): string {
  return a !== '' && /^[^\s"'\\]+$/.test(a) ? a : `"${a.replace(/["'\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The iptables-restore file for one family: `*filter`, `:CHAIN - [0:0]` for every added chain,
 * then `-A CHAIN args` chain by chain (in order of first appearance), each chain's rules in
 * (priority, insertion) order — the order firewalld gives them — and `COMMIT`.
 */
export function directRulesToRestore(entries: DirectEntry[], ipv: IpFamily): string {
  const mine = entries.filter((e) => e.ipv === ipv && e.table === 'filter');
  const lines = ['*filter'];
  const chainOrder: string[] = [];
  for (const e of mine) {
    if (e.kind === 'chain') lines.push(`:${e.chain} - [0:0]`);
    if (!chainOrder.includes(e.chain)) chainOrder.push(e.chain);
  }
  for (const chain of chainOrder) {
    const rules = mine
      .map((e, i) => ({ e, i }))
      .filter((x): x is { e: Extract<DirectEntry, { kind: 'rule' }>; i: number } => x.e.kind === 'rule' && x.e.chain === chain)
      .sort((a, b) => a.e.priority - b.e.priority || a.i - b.i);
    for (const { e } of rules) lines.push(['-A', chain, ...e.args].map(restoreArg).join(' '));
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}


/** Adds the offending restore line to iptables-restore's "line N" messages. */
function annotate(stderr: string, files: Record<string, string>): string {
  const m = /lanfence: (ipv[46])\.rules rejected/.exec(stderr);
  if (!m) return stderr;
  const n = /(?:line:? )(\d+)/i.exec(stderr);
  const content = files[m[1]];
  if (!n || !content) return stderr;
  const text = content.split('\n')[Number(n[1]) - 1];
  return text === undefined ? stderr : `${stderr.trimEnd()}\n${m[1]}.rules line ${n[1]}: ${text}\n`;
}

export async function checkFirewalld(rendered: Rendered, run: Runner): Promise<CheckResult> {
  const part = rendered.parts.find((p) => p.tool === 'firewall-cmd');
  if (!part) return { ok: false, cmd: 'firewalld check', stderr: 'no firewall-cmd script in the rendered output' };
  const parsed = parseFirewalldScript(part.content);
  if (parsed.errors.length > 0) return { ok: false, cmd: 'firewalld check (reading the script)', stderr: parsed.errors.join('\n') };

  const files: Record<IpFamily, string> = {
    ipv4: directRulesToRestore(parsed.entries, 'ipv4'),
    ipv6: directRulesToRestore(parsed.entries, 'ipv6'),
  };
  const res = await inThrowawayNetns(run, { 'ipv4.rules': files.ipv4, 'ipv6.rules': files.ipv6 }, (file) =>
    (['ipv4', 'ipv6'] as const)
      .flatMap((ipv) => {
        const tool = ipv === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore';
        const fail = `{ echo 'lanfence: ${ipv}.rules rejected' >&2; exit 1; }`;
        return [`${tool} --test ${file(`${ipv}.rules`)} || ${fail}`, `${tool} ${file(`${ipv}.rules`)} || ${fail}`];
      })
      .join('\n'),
  );
  return { ok: res.code === 0, cmd: res.cmd, stderr: annotate(res.stderr, files) };
}
