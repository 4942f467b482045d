import type { Backend } from '../types.js';
import { checkIptables } from './check.js';
import { renderIptables } from './render.js';

export { checkIptables } from './check.js';
export { iptablesHooks, renderIptables, type IptablesHook } from './render.js';

export const iptablesBackend: Backend = {
  name: 'iptables',
  summary: 'ipsets for ranges and exceptions, own LANFENCE-* chains hooked from DOCKER-USER/FORWARD and INPUT (iptables-restore --noflush)',
  render: renderIptables,
  check: checkIptables,
};
