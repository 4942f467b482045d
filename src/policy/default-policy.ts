/** The embedded default policy: used when no policy file exists, written by `lanfence init`. */
export const DEFAULT_POLICY_PATH = '/etc/lanfence/policy.yaml';

export const DEFAULT_POLICY_YAML = `# lanfence policy — keeps containers off the local network and off their own host.
# Every key is optional; the values below are the defaults.
# Reference: https://github.com/lanfence/lanfence#policy-reference (or \`lanfence --help\`)
# Validate with: lanfence check --policy <this file>

mode: enforce            # enforce | audit (audit logs what would be dropped, drops nothing)
action: drop             # drop | reject (TCP reset / ICMP administratively prohibited)
backend: auto            # auto | nftables | iptables | firewalld

protect:
  networks: default      # the built-in list (lanfence plan shows it), or an explicit list of CIDRs
  extra: []              # CIDRs blocked in addition, e.g. [203.0.113.0/24]
  host: true             # block containers from every address of the host itself (input path)

containers:
  interfaces: auto       # auto: docker0, br-*, docker_gwbridge and every bridge Docker reports;
                         # or a list of name patterns, e.g. [docker0, "br-*"]

# Exceptions, judged before any block. They pass the packet on to the host's other rules
# (Docker's, firewalld's); they never accept it outright.
allow: []
#  - to: 10.57.17.5                            # address or CIDR, IPv4 or IPv6, or the word host
#    ports: [5432/tcp, 53/udp, 8000-8100/tcp]  # omitted: every port and protocol
#    from: { network: backend }                # or { container: NAME } or { label: "key=value" }
#    comment: billing database

log:
  prefix: "DOCKER_NET_DROP: "
  rate: 1/10s            # at most one line per (source, destination, destination port) per 10 s
  ceiling: 50/s          # and at most 50 lines a second in all (bursts of up to 500): scans cannot flood the log
`;
