/**
 * The daemon's JSON API as the dashboard reads it (docs/api.md is the contract).
 * Timestamps are milliseconds since the epoch; ISO 8601 strings are accepted too.
 */
export type Timestamp = number | string;

export type RulesState = 'ok' | 'drifted' | 'absent' | 'unknown';
export type Mode = 'enforce' | 'audit';

export interface Overview {
  backend: string | null;
  mode: Mode | null;
  appliedAt: Timestamp | null;
  policyHash: string | null;
  rules: RulesState;
  differences: string[];
  docker: { up: boolean; since: Timestamp | null };
  drops: { lastHour: number; lastDay: number };
  unprotected: { container: string; reason: string }[];
  daemon: { startedAt: Timestamp; applies: number; setUpdates: number; repairs: number; failures: number };
}

export interface Drop {
  time: Timestamp;
  container: string | null;
  containerId: string | null;
  network: string | null;
  project: string | null;
  src: string;
  dst: string;
  proto: string;
  dport: number | null;
  entry: string | null;
  path: 'forward' | 'input';
  mode: Mode;
}

export interface Attachment {
  network: string;
  ipv4: string | null;
  ipv6: string | null;
  bridge: string | null;
}

export interface ContainerSummary {
  name: string;
  id: string;
  networks: Attachment[];
}

/** Where a policy entry came from: the policy file (with line and column) or a container label. */
export interface Origin {
  file: string;
  path: string;
  pos?: { line: number; col: number };
  /** Also accepted: the position flattened, as `lanfence explain --json` prints it. */
  line?: number;
  col?: number;
}

/** A blocked range or the host: a text, or the object `lanfence explain --json` prints. */
export type EntryRef = string | { text?: string; cidr?: string; name?: string; kind?: string };

export interface ContainerDetail extends ContainerSummary {
  labels: Record<string, string>;
  exceptions: { index: number; text: string; origin: Origin | string }[];
  /** Drop attempts in 5-minute buckets over the last 24 hours; `t` is the bucket start. */
  series: { t: Timestamp; count: number }[];
  destinations: { dst: string; port: number | null; proto: string; entry: string | null; count: number; first: Timestamp; last: Timestamp }[];
}

export interface Coverage {
  /** `reason`: why a network is not covered (the daemon sends it whenever `covered` is false); driver `null` is Docker's `none` network: nothing to filter. */
  networks: { name: string; driver: string; bridge: string | null; covered: boolean; reason?: string; ipv6: boolean; internal: boolean; subnets: string[] }[];
  containers: { name: string; networks: string[]; protected: boolean; reason?: string }[];
}

export interface Suggestion {
  container: string;
  kind: 'service' | 'scan';
  /** What a service suggestion opens, e.g. `10.57.17.5 5432/tcp` (absent for scans). */
  target?: string;
  count: number;
  first: Timestamp;
  last: Timestamp;
  yaml: string;
}

export interface PolicyInfo {
  file: string;
  hash: string;
  text: string;
  backend: string;
  rendered: string;
}

export type ExplainVerdict = 'drop' | 'log' | 'pass' | 'not-judged';

export interface Explanation {
  verdict: ExplainVerdict;
  action?: string | null;
  reason: string;
  entry?: EntryRef | null;
  exception?: { index: number; comment?: string; text?: string; origin: Origin } | null;
  suggestion?: string | null;
}
