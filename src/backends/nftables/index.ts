import type { Backend } from '../types.js';
import { applyNftables, nftAvailable, removeNftables } from './apply.js';
import { checkNftables } from './check.js';
import { inspectNftables } from './read.js';
import { renderNftables } from './render.js';

export const nftablesBackend: Backend = {
  name: 'nftables',
  summary: 'own `inet lanfence` table, sets for ranges and exceptions, one atomic `nft -f` (default)',
  render: renderNftables,
  check: checkNftables,
  available: nftAvailable,
  apply: applyNftables,
  inspect: inspectNftables,
  remove: removeNftables,
};
