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

/** What the live firewall holds of lanfence, compared with what was rendered. */
export interface LiveStatus {
  /** Any of lanfence's rules exist. */
  present: boolean;
  /** The live rules are exactly the rendered ones (false when `expected` was null and rules exist). */
  matches: boolean;
  /** Human-readable differences, e.g. `missing: -A DOCKER-USER -j LANFENCE-FWD`, `table inet lanfence is absent`. */
  differences: string[];
  /** Packets that reached the final verdict (dropped/rejected, or only logged in audit mode). */
  blockedPackets?: number;
}

export interface Backend {
  name: BackendName;
  /** One line for --help and plan headers. */
  summary: string;
  render(resolved: Resolved): Rendered;
  /** Asks the kernel (or firewalld) whether it would accept the rendered rules. Changes nothing. */
  check(rendered: Rendered, run: Runner): Promise<CheckResult>;
  /** True when this backend's tools work on this host (used by `backend: auto`). */
  available(run: Runner): Promise<boolean>;
  /**
   * Applies the rendered rules as one transaction. Throws BackendError; when it throws, the rules
   * that were live before are intact (or have been restored).
   */
  apply(rendered: Rendered, run: Runner): Promise<void>;
  /** Compares the live state with `expected` (null: nothing expected, only report presence). */
  inspect(expected: Rendered | null, run: Runner): Promise<LiveStatus>;
  /** Removes exactly what lanfence added (its table / chains, sets and jumps / direct rules). Idempotent. */
  remove(run: Runner): Promise<void>;
}
