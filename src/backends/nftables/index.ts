import type { Backend } from '../types.js';
import { checkNftables } from './check.js';
import { renderNftables } from './render.js';

export const nftablesBackend: Backend = {
  name: 'nftables',
  summary: 'own `inet lanfence` table, sets for ranges and exceptions, one atomic `nft -f` (default)',
  render: renderNftables,
  check: checkNftables,
};
