/** Reading the nftables block chain's counters back (the shape of `nft -j list chain inet lanfence block`). */
import { describe, expect, it } from 'vitest';
import { countBlocked } from '../../src/backends/nftables/read.js';
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
