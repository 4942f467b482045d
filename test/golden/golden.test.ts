/** Golden files: what each backend renders for each scenario. UPDATE_GOLDEN=1 regenerates them. */
import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '../../src/backends/index.js';
import { renderGolden, scenarios } from '../support/golden.js';

const all = scenarios();

describe('golden files', () => {
  it('has at least 8 scenarios', () => expect(all.length).toBeGreaterThanOrEqual(8));
  for (const s of all) {
    for (const backend of BACKEND_NAMES) {
      it(`${s.name} renders for ${backend} as expected.${backend === 'nftables' ? 'nft' : backend}`, () => {
        const [actual, expected] = renderGolden(s, backend);
        expect(actual).toBe(expected);
      });
    }
  }
});
