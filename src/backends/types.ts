/** The one Backend interface every firewall backend implements. */
import type { Runner } from '../exec.js';
import type { Resolved } from '../ruleset/resolve.js';
import type { BackendName } from '../ruleset/types.js';

/** One input for one tool, e.g. the nft script, an ipset restore file, an iptables-restore file. */
export interface RenderedPart {
  /** nft | ipset | iptables | ip6tables | firewall-cmd */
  tool: string;
  content: string;
}

export interface Rendered {
  backend: BackendName;
  /** Everything, as a person (plan) and the golden files read it. */
  text: string;
  parts: RenderedPart[];
}

export interface CheckResult {
  ok: boolean;
  /** The command that was run, for error messages. */
  cmd: string;
  stderr: string;
}

export interface Backend {
  name: BackendName;
  /** One line for --help and plan headers. */
  summary: string;
  render(resolved: Resolved): Rendered;
  /** Asks the kernel (or firewalld) whether it would accept the rendered rules. Changes nothing. */
  check(rendered: Rendered, run: Runner): Promise<CheckResult>;
}
