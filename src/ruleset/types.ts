/** The rule set (IR): typed, backend-agnostic, canonical. Every backend renders this. */
import type { Cidr } from './cidr.js';
import type { Position } from '../policy/diagnostic.js';
import type { Ceiling } from '../policy/rate.js';

export type Mode = 'enforce' | 'audit';
export type Action = 'drop' | 'reject';
export type BackendName = 'nftables' | 'iptables' | 'firewalld';
export type BackendChoice = BackendName | 'auto';
export type Proto = 'tcp' | 'udp';

/** Where a rule set element came from in the policy file. */
export interface Origin {
  file: string;
  pos?: Position;
  path: string;
}

export interface BlockedEntry {
  cidr: Cidr;
  /** Short name shown by plan, logs and explain, e.g. `private (RFC 1918)`. */
  name: string;
  source: 'default' | 'networks' | 'extra';
}

export interface PortRange {
  proto: Proto;
  from: number;
  to: number;
}

export type Scope =
  | { kind: 'any' }
  | { kind: 'network'; network: string }
  | { kind: 'container'; container: string }
  | { kind: 'label'; key: string; value: string };

export type Destination = { kind: 'cidr'; cidr: Cidr } | { kind: 'host' };

export interface Exception {
  /** 1-based position in the policy's `allow` list (stable name: `allow #N`). */
  index: number;
  to: Destination;
  /** null: every port and protocol. Sorted, merged. */
  ports: PortRange[] | null;
  from: Scope;
  comment?: string;
  origin: Origin;
}

export interface Ruleset {
  mode: Mode;
  action: Action;
  backend: BackendChoice;
  /** Blocked destinations for the forward path, canonical and sorted (v4 then v6). */
  blocked: BlockedEntry[];
  /** Block containers from every address of the host itself (input path). */
  protectHost: boolean;
  /** Container interface name patterns (`*` only as the last character). */
  interfaces: { auto: boolean; patterns: string[] };
  exceptions: Exception[];
  /** Per-flow rate (one line per source, destination, port per period) and a global ceiling. */
  log: { prefix: string; periodSeconds: number; ceiling: Ceiling };
}
