/** The data of a verify run: sources (rows), destinations (columns), cells (expected vs observed). */
import type { ExplainVerdict } from '../explain/index.js';
import type { Family } from '../ruleset/cidr.js';
import type { BackendName, Mode } from '../ruleset/types.js';
import type { AgentOutcome } from './agent.js';

/**
 * What a cell should show. `drop` / `log`: the blocked-packet counter rises with the probe (enforce /
 * audit mode); `pass`: it does not; `open`: it does not, and the connection succeeds (--internet).
 */
export type Expected = 'drop' | 'log' | 'pass' | 'open';
/** What was seen; `closed`: an `open` cell whose connection did not succeed. */
export type Observed = Expected | 'closed';

export interface VerifySource {
  /** Row label: the container's name, or `network:NAME` for a probe namespace. */
  name: string;
  kind: 'container' | 'network';
  /** explain's --from for this row (the route lookup may then name the exact source address). */
  from: string;
  /** Its networks, in inventory order. */
  networks: string[];
  /** The network namespace file to enter (`/proc/<pid>/ns/net`, `/run/netns/<name>`). */
  netns: string;
  pid?: number;
  /** Its address and its network's gateway, per family (the first network that has one). */
  addresses: Partial<Record<Family, string>>;
  gateways: Partial<Record<Family, string>>;
}

export type ColumnKind = 'range' | 'gateway' | 'host' | 'exception' | 'internet';

export interface VerifyColumn {
  key: string;
  /** Table header. */
  label: string;
  kind: ColumnKind;
  /** For the legend: what it stands for. */
  what: string;
  /** The destination; absent when it depends on the row (its gateway). */
  address?: string;
  /** The family of a row-dependent destination (gateway columns). */
  family?: Family;
  proto: 'tcp' | 'udp';
  port: number;
  /** Set when the column is not probed at all, with the reason. */
  skip?: string;
  note?: string;
}

export interface ProbeSeen {
  observed: Observed;
  /** The blocked-packet counter rose while this probe ran (attributed), or not. */
  counted: boolean;
  outcome: AgentOutcome;
  detail: string;
  ms: number;
}

export interface VerifyCell {
  row: string;
  column: string;
  /** What was (or would be) sent. */
  target?: { address: string; port: number; proto: 'tcp' | 'udp'; from?: string };
  /** Not probed, and why. */
  skip?: string;
  expected?: Expected;
  /** explain's verdict and reason for the packet. */
  verdict?: ExplainVerdict;
  reason?: string;
  seen?: ProbeSeen;
  /** The first look, when a mismatching cell was probed a second time. */
  firstLook?: ProbeSeen;
  match?: boolean;
  /** For a mismatch from a container: the command that repeats the probe by hand. */
  reproduce?: string;
}

export interface VerifyReport {
  ok: boolean;
  backend: BackendName;
  mode: Mode;
  policy: { file: string; hash: string; appliedAt: string };
  /** The live rules compared with what was applied (as `status` does). */
  live: { matches: boolean; differences: string[] };
  inventory: string;
  sources: VerifySource[];
  /** Containers and networks not verified, with the reason. */
  notVerified: { name: string; why: string }[];
  columns: VerifyColumn[];
  cells: VerifyCell[];
  mismatches: VerifyCell[];
  counts: { cells: number; probed: number; matched: number; mismatched: number; notProbed: number };
  /** The blocked-packet counter before and after, and what rose while nothing was probed. */
  counter: { before: number; after: number; background: number; backgroundMs: number };
  notes: string[];
  seconds: number;
}
