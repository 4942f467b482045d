/** The firewalld backend: permanent direct rules on DOCKER-USER and INPUT, ipv4 and ipv6. */
import type { Backend } from '../types.js';
import { applyFirewalld, firewalldAvailable, removeFirewalld } from './apply.js';
import { checkFirewalld } from './check.js';
import { inspectFirewalld } from './inspect.js';
import { renderFirewalld } from './render.js';

export const firewalldBackend: Backend = {
  name: 'firewalld',
  summary: 'firewalld permanent direct rules (DOCKER-USER and INPUT, IPv4 and IPv6), changed at runtime without a reload where possible',
  render: renderFirewalld,
  check: checkFirewalld,
  available: firewalldAvailable,
  apply: applyFirewalld,
  inspect: inspectFirewalld,
  remove: removeFirewalld,
};

export { applyFirewalld, firewalldAvailable, removeFirewalld } from './apply.js';
export { checkFirewalld, directRulesToRestore } from './check.js';
export { firewalldState } from './cmd.js';
export { snapshot, writePermanent, type Snapshot } from './dbus.js';
export { isLanfenceRule, lanfenceOf, mergeSettings, withoutLanfence, type DirectSettings } from './direct.js';
export { inspectFirewalld } from './inspect.js';
export { forwardOrderProblems, parseSave, repairForward } from './kernel.js';
export {
  CHAINS,
  PRIORITY,
  commentText,
  firewallCmdArgs,
  firewalldDirectRules,
  renderFirewalld,
  type DirectChain,
  type DirectEntry,
  type DirectRule,
  type IpFamily,
} from './render.js';
export { parseFirewalldScript, shellWords, type ParsedScript } from './script.js';
export { hashlimitRate, iptablesInterface } from '../xtables.js';
