/** Reading the nftables block chain's counters back (the shape of `nft -j list chain inet lanfence block`). */
import { describe, expect, it } from 'vitest';
import { countBlocked, inspectNftables } from '../../src/backends/nftables/read.js';
import type { Rendered } from '../../src/backends/types.js';
import type { Runner } from '../../src/exec.js';
import { LOG_COUNTER_COMMENT } from '../../src/backends/nftables/render.js';

const rule = (expr: unknown[], comment?: string) => ({ rule: { family: 'inet', table: 'lanfence', chain: 'block', handle: 1, ...(comment ? { comment } : {}), expr } });
const counter = (packets: number) => ({ counter: { packets, bytes: packets * 60 } });

describe('nftables: the blocked-packet counter', () => {
  it('counts the verdict rules, not the log rules (whose counters are lines logged)', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { chain: { family: 'inet', table: 'lanfence', name: 'block' } },
        rule([{ limit: 'log_ceiling' }, { log: { prefix: 'X: ' } }, counter(500)], LOG_COUNTER_COMMENT),
        rule([{ log: { prefix: 'X: ' } }, counter(20)], LOG_COUNTER_COMMENT),
        rule([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, counter(4000), { reject: { type: 'tcp reset' } }]),
        rule([counter(1000), { drop: null }]),
      ],
    });
    expect(countBlocked(json)).toBe(5000);
  });

  it('an empty chain counts nothing', () => {
    expect(countBlocked(JSON.stringify({ nftables: [{ chain: { name: 'block' } }] }))).toBe(0);
  });
});

describe('nftables inspect: the expected rules are loaded in a scratch namespace once per rendering', () => {
  const snapshot = (elements: string[]) => ({
    json: JSON.stringify({ nftables: [{ set: { family: 'inet', name: 'allow4_any', table: 'lanfence', type: 'ipv4_addr', elem: elements } }] }),
    text: 'table inet lanfence {\n\tchain forward {\n\t\tip daddr @allow4_any accept\n\t}\n}\n',
  });
  /** A runner whose live table and scratch-namespace listing the test sets; counts the scratch loads. */
  function fake(live: { json: string; text: string }, scratch: { json: string; text: string }) {
    const state = { live, scratch, loads: 0 };
    const run: Runner = async (cmd, args) => {
      if (cmd === 'unshare') {
        state.loads++;
        return { code: 0, stdout: `${state.scratch.json}\n#####\n${state.scratch.text}`, stderr: '' };
      }
      const a = args.join(' ');
      if (a === '-s list table inet lanfence') return { code: 0, stdout: state.live.text, stderr: '' };
      if (a === '-j -s list table inet lanfence') return { code: 0, stdout: state.live.json, stderr: '' };
      if (a === '-j list chain inet lanfence block') return { code: 0, stdout: '{"nftables": []}', stderr: '' };
      return { code: 1, stdout: '', stderr: `unexpected: ${cmd} ${a}` };
    };
    return { state, run };
  }
  const rendering = (tag: string): Rendered => ({ backend: 'nftables', text: tag, parts: [{ tool: 'nft', content: `# ${tag}\n` }] });

  it('a matching table: the second inspection reuses the expected snapshot', async () => {
    const s = snapshot(['10.0.0.5']);
    const { state, run } = fake(s, s);
    const r = rendering('reuse');
    expect((await inspectNftables(r, run)).matches).toBe(true);
    expect((await inspectNftables(r, run)).matches).toBe(true);
    expect(state.loads).toBe(1);
  });

  it('drift is reported from a fresh load, never from the cache alone', async () => {
    const s = snapshot(['10.0.0.5']);
    const { state, run } = fake(s, s);
    const r = rendering('drift');
    await inspectNftables(r, run);
    state.live = snapshot([]);
    const st = await inspectNftables(r, run);
    expect(st.matches).toBe(false);
    expect(st.differences).toEqual(['set allow4_any lacks 10.0.0.5']);
    expect(state.loads).toBe(2);
  });

  it('a stale cached snapshot (the kernel now lists it differently) costs a reload, not a false drift', async () => {
    const { state, run } = fake(snapshot(['10.0.0.5']), snapshot(['10.0.0.5']));
    const r = rendering('stale');
    await inspectNftables(r, run);
    state.live = snapshot(['10.0.0.5/32']);
    state.scratch = snapshot(['10.0.0.5/32']);
    expect((await inspectNftables(r, run)).matches).toBe(true);
    expect(state.loads).toBe(2);
  });
});
