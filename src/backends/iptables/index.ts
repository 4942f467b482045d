import type { Backend } from '../types.js';
import { applyIptables } from './apply.js';
import { checkIptables } from './check.js';
import { inspectIptables } from './read.js';
import { iptablesAvailable } from './live.js';
import { removeIptables } from './remove.js';
import { renderIptables } from './render.js';

export { applyIptables } from './apply.js';
export { checkIptables } from './check.js';
export { inspectIptables } from './read.js';
export { iptablesAvailable } from './live.js';
export { removeIptables } from './remove.js';
export { iptablesHooks, renderedHooks, renderIptables, type IptablesHook } from './render.js';

export const iptablesBackend: Backend = {
  name: 'iptables',
  summary: 'ipsets for ranges and exceptions, own LANFENCE-* chains hooked from DOCKER-USER/FORWARD and INPUT (iptables-restore --noflush)',
  render: renderIptables,
  check: checkIptables,
  available: iptablesAvailable,
  apply: applyIptables,
  inspect: inspectIptables,
  remove: removeIptables,
};
