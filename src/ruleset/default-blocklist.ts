/** The built-in blocked destinations, each with the short name plan, logs and explain show. */
export interface BuiltinRange {
  cidr: string;
  name: string;
}

export const DEFAULT_BLOCKED: readonly BuiltinRange[] = [
  { cidr: '0.0.0.0/8', name: 'this network (RFC 1122)' },
  { cidr: '10.0.0.0/8', name: 'private (RFC 1918)' },
  { cidr: '100.64.0.0/10', name: 'CGNAT / shared address space (RFC 6598, e.g. Tailscale)' },
  { cidr: '127.0.0.0/8', name: 'loopback' },
  { cidr: '169.254.0.0/16', name: 'link-local (RFC 3927, cloud metadata)' },
  { cidr: '172.16.0.0/12', name: 'private (RFC 1918)' },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments (RFC 6890)' },
  { cidr: '192.168.0.0/16', name: 'private (RFC 1918)' },
  { cidr: '198.18.0.0/15', name: 'benchmarking (RFC 2544)' },
  { cidr: '224.0.0.0/4', name: 'multicast' },
  { cidr: '240.0.0.0/4', name: 'reserved and broadcast' },
  { cidr: '::/128', name: 'unspecified' },
  { cidr: '::1/128', name: 'loopback' },
  { cidr: '::ffff:0:0/96', name: 'IPv4-mapped' },
  { cidr: '64:ff9b:1::/48', name: 'local-use NAT64 (RFC 8215)' },
  { cidr: '100::/64', name: 'discard-only (RFC 6666)' },
  { cidr: 'fc00::/7', name: 'unique local (ULA, RFC 4193)' },
  { cidr: 'fe80::/10', name: 'link-local' },
  { cidr: 'fec0::/10', name: 'site-local (deprecated)' },
  { cidr: 'ff00::/8', name: 'multicast' },
];

/** Interface patterns that are always container interfaces when `containers.interfaces: auto`. */
export const AUTO_INTERFACES: readonly string[] = ['docker0', 'br-*', 'docker_gwbridge'];
