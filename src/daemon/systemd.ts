/**
 * systemd units. `lanfence-boot.service` applies the policy before docker.service starts (nftables
 * needs nothing from Docker: interface patterns cover every bridge); `lanfence.service` runs the
 * daemon after Docker. Both hardened: only the capabilities a firewall tool needs.
 */
export interface UnitOptions {
  /** Absolute path of the lanfence executable. */
  bin: string;
  policy?: string;
}

const HARDENING = `NoNewPrivileges=yes
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH
ProtectSystem=strict
ReadWritePaths=/var/lib/lanfence /run
StateDirectory=lanfence
PrivateTmp=yes
ProtectHome=yes
ProtectKernelModules=yes
ProtectKernelLogs=no
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=~user mnt pid uts ipc cgroup
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=no
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6`;

export function bootUnit(o: UnitOptions): string {
  const policy = o.policy ? ` --policy ${o.policy}` : '';
  return `[Unit]
Description=lanfence: keep containers off the LAN (rules before Docker starts)
Documentation=man:lanfence(8)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target docker.service
After=local-fs.target nftables.service firewalld.service

[Service]
Type=oneshot
RemainAfterExit=yes
# No Docker yet: apply with an empty inventory; the daemon adds scoped exceptions later.
ExecStart=${o.bin} apply${policy} --inventory none
${HARDENING}

[Install]
WantedBy=multi-user.target
RequiredBy=docker.service
`;
}

/**
 * V8 flags for the daemon (NODE_OPTIONS in lanfence.service). A 1 MiB semi-space (Node's default
 * grows to 16 MiB) keeps V8's young generation small: with 1,000 containers the daemon's resident
 * memory was 71 MiB instead of 82 MiB in the benchmark. The cost is more frequent minor
 * collections when it allocates fast — under a log flood, about a tenth of its parsing throughput
 * (docs/benchmarks.md, "Daemon memory").
 */
export const DAEMON_NODE_OPTIONS = '--max-semi-space-size=1';

export function daemonUnit(o: UnitOptions): string {
  const policy = o.policy ? ` --policy ${o.policy}` : '';
  return `[Unit]
Description=lanfence daemon: follows Docker, repairs drift
Documentation=man:lanfence(8)
After=docker.service lanfence-boot.service firewalld.service
Wants=docker.service lanfence-boot.service

[Service]
Type=simple
# A small young generation: less resident memory, a little more GC work under log floods.
Environment=NODE_OPTIONS=${DAEMON_NODE_OPTIONS}
ExecStart=${o.bin} daemon${policy}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2
${HARDENING}

[Install]
WantedBy=multi-user.target
`;
}
