/**
 * The kernel accepts every golden: nft goldens with `nft -c -f`, iptables goldens with
 * ipset + `iptables-restore --test`, firewalld goldens translated to iptables-restore --test —
 * each inside a network namespace this test creates and deletes.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, BACKEND_NAMES } from '../../src/backends/index.js';
import { inNetns } from '../../src/exec.js';
import { expectedPath, scenarios } from '../support/golden.js';
import { createNetns, kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('kernel acceptance of golden files');

describe.runIf(enabled)('the kernel accepts every golden file', () => {
  let netns: ReturnType<typeof createNetns>;
  beforeAll(() => {
    netns = createNetns('lf-golden');
  });
  afterAll(() => netns?.remove());

  for (const s of scenarios()) {
    for (const name of BACKEND_NAMES) {
      it(`${s.name} / ${name}`, async () => {
        const backend = BACKENDS.get(name)!;
        // Check the golden text as committed: it is what reviewers read.
        const rendered = backend.render(s.resolved);
        expect(readFileSync(expectedPath(s, name), 'utf8')).toBe(rendered.text);
        const result = await backend.check(rendered, inNetns(netns.ns));
        expect(result.ok, `${result.cmd}\n${result.stderr}`).toBe(true);
      });
    }
  }

  it('nft -c rejects a broken script (the check is real)', async () => {
    const backend = BACKENDS.get('nftables')!;
    const rendered = backend.render(scenarios()[0].resolved);
    const broken = { ...rendered, parts: [{ tool: 'nft', content: rendered.parts[0].content.replace('counter drop', 'counter dorp') }] };
    const result = await backend.check(broken, inNetns(netns.ns));
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/dorp|syntax/i);
  });
});
