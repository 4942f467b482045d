/** The firewalld backend: permanent direct rules on DOCKER-USER and INPUT, ipv4 and ipv6. */
import type { Backend } from '../types.js';
import { checkFirewalld } from './check.js';
import { renderFirewalld } from './render.js';

export const firewalldBackend: Backend = {
  name: 'firewalld',
  summary: 'firewalld permanent direct rules (DOCKER-USER and INPUT, IPv4 and IPv6), loaded with firewall-cmd',
  render: renderFirewalld,
  check: checkFirewalld,
};

export { checkFirewalld, directRulesToRestore } from './check.js';
export {
  CHAINS,
  HASHLIMIT_NAME,
  PRIORITY,
  commentText,
  firewallCmdArgs,
  firewalldDirectRules,
  hashlimitRate,
  iptablesInterface,
  renderFirewalld,
  type DirectChain,
  type DirectEntry,
  type DirectRule,
  type IpFamily,
} from './render.js';
export { parseFirewalldScript, shellWords, type ParsedScript } from './script.js';
