/**
 * The network-namespace lab: a "host" namespace running its own dockerd (and optionally firewalld)
 * and a "LAN" namespace owning addresses in the blocked ranges plus public stand-ins, joined by a
 * veth pair. Nothing here touches the machine's own network namespace, except enabling kernel LOG
 * output from namespaces (`net.netfilter.nf_log_all_netns=1`).
 *
 * Safety: the namespaces have no link to the machine's interfaces; every probe target is a lab
 * address. Everything started here is torn down by `teardown()`, and — should the test process
 * die first — by exit and signal handlers (synchronous, SIGKILL-based).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { commandLine, runCommand, type RunOptions, type RunResult } from '../exec.js';
import { queryDaemon } from '../daemon/api.js';
import type { DaemonState } from '../daemon/daemon.js';
import { loadDockerInventory } from '../inventory/docker.js';
import type { Inventory } from '../inventory/types.js';
import { startFirewalld, type FirewalldHandle } from './firewalld.js';
import {
  DOCKER0_V6,
  HOST_TCP_PORTS,
  HOST_UDP_PORTS,
  HOST_UPLINK4,
  HOST_UPLINK6,
  IMAGE,
  LAB_CONTAINERS,
  LAB_NETWORKS,
  LAN_ADDRESSES,
  LAN_GW4,
  LAN_GW6,
  LAN_LINK,
  LAN_TCP_PORTS,
  LAN_UDP_PORTS,
  PEER,
  UPLINK,
  type LabContainerSpec,
} from './topology.js';

export const LAB_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = resolvePath(LAB_DIR, '..', '..');
export const SERVICES_SCRIPT = join(LAB_DIR, 'services.mjs');
export const NODE = process.execPath;

export interface LabOptions {
  ipv6?: boolean;
  firewalld?: boolean;
}

/** One attachment of a container to a network. */
export interface LabAttachment {
  network: string;
  /** The Linux bridge of that network (docker0, br-<id>, lab-custom0). */
  bridge: string;
  internal: boolean;
  ipv4: string;
  ipv6?: string;
  gateway4?: string;
  gateway6?: string;
  /** The network's subnets (CIDR text). */
  subnets: string[];
}

export interface LabContainer {
  name: string;
  id: string;
  /** PID of the container's init, for `nsenter --net=/proc/<pid>/ns/net`. */
  pid: number;
  /** Its (first) network: the row's network. */
  net: LabAttachment;
  attachments: LabAttachment[];
}

export interface HostAddress {
  address: string;
  family: 4 | 6;
  iface: string;
}

export type NsRole = 'host' | 'lan';

export interface Lab {
  id: string;
  dir: string;
  hostNs: string;
  lanNs: string;
  uplink: string;
  socket: string;
  stateDir: string;
  ipv6: boolean;
  firewalld: boolean;
  /** The matrix rows. */
  containers: LabContainer[];
  /** Attached to every lab network. */
  peer: LabContainer;
  /** Global addresses of the host namespace (uplink, every bridge gateway). */
  hostAddresses: HostAddress[];
  /** Environment lanfence and dockerd run with (DOCKER_HOST, LANFENCE_STATE_DIR, firewalld's D-Bus). */
  env: Record<string, string>;
  /** Seconds per setup phase. */
  timings: Record<string, number>;
  /** With firewalld: the zone of each interface firewalld has placed (Docker puts its bridges in `docker`). */
  firewalldZones: Record<string, string>;
  /** Runs `cmd` inside a lab namespace (`nsenter --net=/run/netns/<ns>`). */
  exec(ns: NsRole | string, cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** The docker CLI against the lab's engine. */
  docker(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** `lanfence ...args` in the host namespace, against the lab's Docker and state dir. */
  lanfence(args: string[], env?: Record<string, string>): Promise<RunResult>;
  /** The command line `lanfence(args)` runs, for messages. */
  lanfenceCommand(args: string[], env?: Record<string, string>): string;
  /** Docker inventory, as lanfence sees it. */
  inventory(): Promise<Inventory>;
  /** `/run/netns/<ns>` for a role. */
  nsPath(ns: NsRole | string): string;
  /**
   * Forgets every connection the host namespace tracks, so that each probe is a new connection as
   * the evaluator assumes (a UDP probe reusing a source port of an earlier, allowed flow would
   * otherwise pass as established).
   */
  resetConntrack(): Promise<void>;
  /** Stops dockerd (SIGTERM; waits until it has exited); containers keep running (live-restore). */
  stopDockerd(): Promise<void>;
  /** Starts dockerd again after `stopDockerd()`; resolves once it answers. */
  startDockerd(): Promise<void>;
  /** Stops dockerd (SIGTERM) and starts it again; containers keep running (live-restore). */
  restartDockerd(): Promise<void>;
  /**
   * Starts a long-lived `lanfence daemon ...args` in the host namespace, against the lab's Docker,
   * state dir and (with firewalld) D-Bus, its local API on `<dir>/lanfence-<n>.sock` unless `args`
   * give `--socket`. Resolves once the API answers. Teardown stops it if the test did not.
   */
  startDaemon(args: string[], opts?: { env?: Record<string, string>; readyTimeoutMs?: number }): Promise<LabDaemon>;
  teardown(): Promise<void>;
}

/** A `lanfence daemon` process started by `lab.startDaemon()`. */
export interface LabDaemon {
  pid: number;
  /** Its local API socket (give it to `lanfence status` as LANFENCE_SOCKET). */
  socket: string;
  /** Its stdout and stderr. */
  logFile: string;
  /** The command line, for messages. */
  command: string;
  /** GET `/v1/status` from its local API; null when it does not answer. */
  status(): Promise<DaemonState | null>;
  /** GET any path of its local API; null when it does not answer. */
  query<T>(path: string): Promise<T | null>;
  /** Its output so far (the last `lines` lines). */
  log(lines?: number): string;
  exited(): boolean;
  /** Sends `signal` to the daemon (SIGKILL: to its whole process group, as systemd would) and waits until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (the rules stay in place), SIGKILL after `timeoutMs`; resolves with the exit code (null: killed). Idempotent. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** What emergency cleanup needs; filled in as setup progresses. */
interface Resources {
  id: string;
  dir: string;
  namespaces: string[];
  /** Long-lived processes started here (dockerd, services). */
  children: ChildProcess[];
  /** Container init PIDs. */
  containerPids: number[];
  cgroupParent: string;
  firewalld?: FirewalldHandle;
  cleaned: boolean;
}

const live = new Set<Resources>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const r of live) emergencyCleanup(r);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const r of live) emergencyCleanup(r);
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`lab: ${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** Builds the lab. On any error everything built so far is torn down before the error propagates. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error('lab: needs root');
  installExitHandlers();
  const id = randomBytes(3).toString('hex');
  const res: Resources = {
    id,
    dir: `/tmp/lf-lab-${id}`,
    namespaces: [],
    children: [],
    containerPids: [],
    cgroupParent: `/lf-lab-${id}`,
    cleaned: false,
  };
  live.add(res);
  try {
    return await build(res, { ipv6: opts.ipv6 ?? true, firewalld: opts.firewalld ?? false });
  } catch (e) {
    await gracefulTeardown(res, null);
    throw e;
  }
}

async function build(res: Resources, opts: Required<LabOptions>): Promise<Lab> {
  const timings: Record<string, number> = {};
  let t0 = Date.now();
  const phase = (name: string) => {
    timings[name] = (Date.now() - t0) / 1000;
    t0 = Date.now();
  };
  const { dir, id } = res;
  mkdirSync(dir, { mode: 0o700 });
  const hostNs = `lf-lab-host-${id}`;
  const lanNs = `lf-lab-lan-${id}`;
  const nsName = (ns: NsRole | string) => (ns === 'host' ? hostNs : ns === 'lan' ? lanNs : ns);
  const nsPath = (ns: NsRole | string) => `/run/netns/${nsName(ns)}`;
  const exec = (ns: NsRole | string, cmd: string, args: string[], o?: RunOptions) => runCommand('nsenter', [`--net=${nsPath(ns)}`, cmd, ...args], o);
  const ip = async (ns: NsRole, ...args: string[]) => must(await exec(ns, 'ip', args), `ip ${args.join(' ')} (in ${nsName(ns)})`);
  const sysctl = async (ns: NsRole, ...kv: string[]) => must(await exec(ns, 'sysctl', ['-q', '-w', ...kv]), `sysctl ${kv.join(' ')}`);

  // --- namespaces and links -------------------------------------------------------------------
  for (const ns of [hostNs, lanNs]) {
    must(await runCommand('ip', ['netns', 'add', ns]), `ip netns add ${ns}`);
    res.namespaces.push(ns);
  }
  for (const role of ['host', 'lan'] as const) {
    await ip(role, 'link', 'set', 'lo', 'up');
    // No duplicate address detection: addresses (also Docker's bridges') are usable at once.
    await sysctl(role, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
  }
  // Created inside the host namespace, peer moved straight into the LAN namespace: no interface
  // ever exists in the machine's own namespace.
  await ip('host', 'link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', LAN_LINK, 'netns', lanNs);
  await ip('host', 'addr', 'add', `${HOST_UPLINK4}/24`, 'dev', UPLINK);
  await ip('lan', 'addr', 'add', `${LAN_GW4}/24`, 'dev', LAN_LINK);
  if (opts.ipv6) {
    await ip('host', 'addr', 'add', `${HOST_UPLINK6}/64`, 'dev', UPLINK, 'nodad');
    await ip('lan', 'addr', 'add', `${LAN_GW6}/64`, 'dev', LAN_LINK, 'nodad');
  }
  await ip('host', 'link', 'set', UPLINK, 'up');
  await ip('lan', 'link', 'set', LAN_LINK, 'up');
  for (const a of LAN_ADDRESSES) {
    if (a.address === LAN_GW4) continue; // already on lan0
    const v6 = a.address.includes(':');
    if (v6 && !opts.ipv6) continue;
    // On lo: the kernel has no dummy interface here, and lo delivers locally all the same.
    await ip('lan', 'addr', 'add', `${a.address}/${v6 ? 128 : 32}`, 'dev', 'lo', ...(v6 ? ['nodad'] : []));
  }
  await ip('host', 'route', 'add', 'default', 'via', LAN_GW4, 'dev', UPLINK);
  await ip('lan', 'route', 'add', 'default', 'via', HOST_UPLINK4, 'dev', LAN_LINK);
  if (opts.ipv6) {
    await ip('host', '-6', 'route', 'add', 'default', 'via', LAN_GW6, 'dev', UPLINK);
    await ip('lan', '-6', 'route', 'add', 'default', 'via', HOST_UPLINK6, 'dev', LAN_LINK);
  }
  await sysctl('host', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  // Kernel LOG output from inside namespaces (a root-namespace switch; it loads no rule).
  must(await runCommand('sysctl', ['-q', '-w', 'net.netfilter.nf_log_all_netns=1']), 'sysctl nf_log_all_netns');
  phase('namespaces');

  // --- firewalld (before dockerd, as on a RHEL/Fedora host) -----------------------------------
  let fwEnv: Record<string, string> = {};
  if (opts.firewalld) {
    res.firewalld = await startFirewalld({ netns: hostNs, dir: join(dir, 'firewalld') });
    fwEnv = res.firewalld.env;
    phase('firewalld');
  }

  // --- dockerd --------------------------------------------------------------------------------
  const socket = join(dir, 'docker.sock');
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  // live-restore: containers keep running while dockerd restarts (the restart fault cases need it).
  writeFileSync(join(dir, 'daemon.json'), '{ "live-restore": true }\n');
  const dockerdArgs = [
    `--net=${nsPath('host')}`,
    'dockerd',
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '-H', `unix://${socket}`,
    '--pidfile', join(dir, 'docker.pid'),
    '--config-file', join(dir, 'daemon.json'),
    '--cgroup-parent', res.cgroupParent,
    '--experimental',
    '--iptables',
    ...(opts.ipv6 ? ['--ipv6', '--fixed-cidr-v6', DOCKER0_V6, '--ip6tables'] : []),
  ];
  const client = new Docker({ socketPath: socket });
  const startDockerd = async (): Promise<ChildProcess> => {
    const dockerdLog = openSync(join(dir, 'dockerd.log'), 'a');
    const dockerd = spawn('nsenter', dockerdArgs, { stdio: ['ignore', dockerdLog, dockerdLog], env: { ...process.env, ...fwEnv } });
    closeSync(dockerdLog);
    await waitFor('dockerd', 30_000, async () => {
      if (dockerd.exitCode !== null) throw new Error(`dockerd exited (${dockerd.exitCode}); see ${join(dir, 'dockerd.log')}:\n${tail(join(dir, 'dockerd.log'))}`);
      if (!existsSync(socket)) return false;
      try {
        await client.ping();
        return true;
      } catch {
        return false;
      }
    });
    return dockerd;
  };
  // res.children[0] is dockerd (teardown relies on it).
  res.children.unshift(await startDockerd());
  phase('dockerd');

  const docker = (args: string[], o?: RunOptions) => runCommand('docker', ['-H', `unix://${socket}`, ...args], o);

  // --- image: busybox-static, imported (no registry) ------------------------------------------
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'tmp'));
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  execFileSync('chmod', ['0755', join(rootfs, 'bin', 'busybox')]);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(rootfs, 'bin', a));
  must(await runCommand('tar', ['-C', rootfs, '-cf', join(dir, 'image.tar'), '.']), 'tar rootfs');
  must(await docker(['import', '-c', 'CMD ["/bin/sh"]', join(dir, 'image.tar'), IMAGE]), 'docker import');
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(join(dir, 'image.tar'), { force: true });
  phase('image');

  // --- networks and containers -----------------------------------------------------------------
  const networks = LAB_NETWORKS.filter((n) => opts.ipv6 || !n.createArgs.includes('--ipv6'));
  await Promise.all(networks.filter((n) => n.createArgs.length > 0).map(async (n) => must(await docker(['network', 'create', ...n.createArgs, n.name]), `docker network create ${n.name}`)));
  const specs = LAB_CONTAINERS.filter((c) => networks.some((n) => n.name === c.network));
  const run = async (c: LabContainerSpec) =>
    must(await docker(['run', '-d', '--name', c.name, '--network', c.network, '--label', 'lanfence.lab=1', ...c.runArgs, IMAGE, ...c.command]), `docker run ${c.name}`);
  await Promise.all([...specs, PEER].map(run));
  for (const n of networks) if (n.name !== PEER.network) must(await docker(['network', 'connect', n.name, PEER.name]), `docker network connect ${n.name} ${PEER.name}`);
  phase('containers');

  const inventory = () => loadDockerInventory(client);
  const inv = await inventory();
  const describe = async (name: string): Promise<LabContainer> => {
    const info = await client.getContainer(name).inspect();
    const attachments: LabAttachment[] = Object.entries(info.NetworkSettings.Networks).map(([network, s]) => {
      const n = inv.networks.find((x) => x.name === network);
      if (!n?.bridge) throw new Error(`lab: network ${network} has no bridge in the inventory`);
      return {
        network,
        bridge: n.bridge,
        internal: n.internal,
        ipv4: s.IPAddress,
        ...(s.GlobalIPv6Address ? { ipv6: s.GlobalIPv6Address } : {}),
        ...(s.Gateway ? { gateway4: s.Gateway } : {}),
        ...(s.IPv6Gateway ? { gateway6: s.IPv6Gateway } : {}),
        subnets: n.subnets,
      };
    });
    const spec = [...LAB_CONTAINERS, PEER].find((c) => c.name === name)!;
    const net = attachments.find((a) => a.network === spec.network)!;
    res.containerPids.push(info.State.Pid);
    return { name, id: info.Id, pid: info.State.Pid, net, attachments };
  };
  const containers = await Promise.all(specs.map((c) => describe(c.name)));
  const peer = await describe(PEER.name);

  const hostAddresses = await listHostAddresses(exec);
  const firewalldZones = opts.firewalld ? await activeZones(exec, fwEnv) : {};

  // --- services ---------------------------------------------------------------------------------
  await startService(res, nsPath('lan'), LAN_TCP_PORTS, LAN_UDP_PORTS, join(dir, 'services-lan.log'));
  await startService(res, nsPath('host'), HOST_TCP_PORTS, HOST_UDP_PORTS, join(dir, 'services-host.log'));
  phase('services');

  const env: Record<string, string> = { DOCKER_HOST: `unix://${socket}`, LANFENCE_STATE_DIR: stateDir, ...fwEnv };
  const lanfenceArgv = (args: string[], extra: Record<string, string> = {}) => [
    `--net=${nsPath('host')}`,
    'env',
    ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`),
    NODE,
    join(REPO, 'bin', 'lanfence'),
    ...args,
  ];

  const stopDockerd = async (): Promise<void> => {
    const old = res.children[0];
    if (exited(old)) return;
    old.kill('SIGTERM');
    for (const until = Date.now() + 30_000; !exited(old) && Date.now() < until; ) await sleep(100);
    if (!exited(old)) throw new Error(`lab: dockerd (pid ${old.pid}) still running 30 s after SIGTERM`);
  };

  const lab: Lab = {
    id,
    dir,
    hostNs,
    lanNs,
    uplink: UPLINK,
    socket,
    stateDir,
    ipv6: opts.ipv6,
    firewalld: opts.firewalld,
    containers,
    peer,
    hostAddresses,
    env,
    timings,
    firewalldZones,
    exec,
    docker,
    lanfence: (args, extra) => runCommand('nsenter', lanfenceArgv(args, extra), { timeoutMs: 120_000 }),
    lanfenceCommand: (args, extra) => commandLine('nsenter', lanfenceArgv(args, extra)),
    inventory,
    nsPath,
    resetConntrack: async () => {
      must(await exec('host', 'conntrack', ['-F']), 'conntrack -F (package conntrack)');
    },
    stopDockerd,
    startDockerd: async () => {
      if (!exited(res.children[0])) throw new Error('lab: startDockerd: dockerd is running (stopDockerd first)');
      res.children[0] = await startDockerd();
    },
    restartDockerd: async () => {
      await stopDockerd();
      res.children[0] = await startDockerd();
    },
    startDaemon: (args, o = {}) => startLanfenceDaemon(res, lanfenceArgv, args, o),
    teardown: () => gracefulTeardown(res, docker),
  };
  return lab;
}

let daemonCount = 0;

async function startLanfenceDaemon(
  res: Resources,
  argv: (args: string[], extra?: Record<string, string>) => string[],
  args: string[],
  opts: { env?: Record<string, string>; readyTimeoutMs?: number },
): Promise<LabDaemon> {
  const n = ++daemonCount;
  const socketIdx = args.indexOf('--socket');
  const socket = socketIdx >= 0 ? args[socketIdx + 1] : join(res.dir, `lanfence-${n}.sock`);
  const full = ['daemon', ...args, ...(socketIdx >= 0 ? [] : ['--socket', socket])];
  const logFile = join(res.dir, `lanfence-daemon-${n}.log`);
  const out = openSync(logFile, 'a');
  // Its own process group: SIGKILL takes its helpers (dbus-monitor) with it, as systemd would.
  const child = spawn('nsenter', argv(full, opts.env), { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  res.children.push(child);
  const command = commandLine('nsenter', argv(full, opts.env));
  const log = (lines = 40) => tail(logFile, lines);
  const waitExit = async (ms: number) => {
    for (const until = Date.now() + ms; !exited(child) && Date.now() < until; ) await sleep(25);
    return exited(child);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exited(child)) return;
    try {
      if (signal === 'SIGKILL') process.kill(-child.pid!, 'SIGKILL');
      else child.kill(signal);
    } catch {
      /* gone */
    }
    if (!(await waitExit(15_000))) throw new Error(`lab: lanfence daemon (pid ${child.pid}) still running 15 s after ${signal}`);
  };
  const daemon: LabDaemon = {
    pid: child.pid!,
    socket,
    logFile,
    command,
    query: <T>(path: string) => queryDaemon<T>(socket, path),
    status: () => queryDaemon<DaemonState>(socket, '/v1/status'),
    log,
    exited: () => exited(child),
    kill,
    stop: async (timeoutMs = 15_000) => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitExit(timeoutMs))) await kill('SIGKILL');
      }
      return child.exitCode;
    },
  };
  const until = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exited(child)) throw new Error(`lab: lanfence daemon exited (${child.exitCode ?? child.signalCode}) before its API answered: ${command}\n${log()}`);
    if (existsSync(socket) && (await daemon.status())) return daemon;
    if (Date.now() > until) {
      await daemon.stop();
      throw new Error(`lab: lanfence daemon's API (${socket}) not answering after ${(opts.readyTimeoutMs ?? 20_000) / 1000} s: ${command}\n${log()}`);
    }
    await sleep(50);
  }
}

async function listHostAddresses(exec: Lab['exec']): Promise<HostAddress[]> {
  const r = must(await exec('host', 'ip', ['-j', 'addr', 'show']), 'ip -j addr show');
  const links = JSON.parse(r.stdout) as { ifname: string; addr_info?: { family: string; local: string; scope: string }[] }[];
  const out: HostAddress[] = [];
  for (const l of links)
    for (const a of l.addr_info ?? []) if (a.scope === 'global') out.push({ address: a.local, family: a.family === 'inet6' ? 6 : 4, iface: l.ifname });
  return out;
}

/** `firewall-cmd --get-active-zones` → interface → zone. */
async function activeZones(exec: Lab['exec'], env: Record<string, string>): Promise<Record<string, string>> {
  const r = must(await exec('host', 'env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'firewall-cmd', '--get-active-zones']), 'firewall-cmd --get-active-zones');
  const zones: Record<string, string> = {};
  let zone = '';
  for (const line of r.stdout.split('\n')) {
    const m = /^\s+interfaces:\s*(.*)$/.exec(line);
    if (m) for (const i of m[1].split(/\s+/).filter(Boolean)) zones[i] = zone;
    else if (/^\S/.test(line)) zone = line.trim().split(/\s+/)[0];
  }
  return zones;
}

async function startService(res: Resources, nsPath: string, tcp: number[], udp: number[], log: string): Promise<void> {
  const child = spawn('nsenter', [`--net=${nsPath}`, NODE, SERVICES_SCRIPT, '--tcp', tcp.join(','), '--udp', udp.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
  res.children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lab: services in ${nsPath} not ready after 10 s: ${err}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"ready":true')) {
        clearTimeout(timer);
        writeFileSync(log, out);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lab: services in ${nsPath} exited (${code}): ${err.trim()}`));
    });
  });
}

async function waitFor(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`lab: ${what} not ready after ${ms / 1000} s`);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

/** Orderly teardown: containers removed through Docker, dockerd stopped, then the sweep. */
async function gracefulTeardown(res: Resources, docker: ((args: string[]) => Promise<RunResult>) | null): Promise<void> {
  if (res.cleaned) return;
  const [dockerd, ...services] = res.children;
  for (const s of services) if (!exited(s)) s.kill('SIGTERM');
  if (docker && dockerd && !exited(dockerd)) {
    const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids]);
  }
  if (dockerd && !exited(dockerd)) {
    dockerd.kill('SIGTERM');
    const until = Date.now() + 20_000;
    while (!exited(dockerd) && Date.now() < until) await sleep(100);
  }
  if (res.firewalld) {
    try {
      await res.firewalld.stop();
    } catch (e) {
      console.warn(`lab ${res.id}: stopping firewalld: ${(e as Error).message}`);
    }
  }
  emergencyCleanup(res);
}

/**
 * Synchronous sweep (also run from exit handlers): kill what is left by PID (container inits, every
 * process inside the lab namespaces — dockerd, containerd, shims, docker-proxy, services, firewalld),
 * unmount what is mounted under the lab dir, remove the dir, the namespaces and the cgroups.
 */
function emergencyCleanup(res: Resources): void {
  if (res.cleaned) return;
  res.cleaned = true;
  live.delete(res);
  const kill = (pid: number) => {
    try {
      if (pid > 1 && pid !== process.pid) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  for (const pid of res.containerPids) kill(pid);
  for (const c of res.children) if (c.pid && !exited(c)) kill(c.pid);
  for (const ns of res.namespaces) for (const pid of pidsInNetns(ns)) kill(pid);
  for (const pid of pidsMentioning(res.dir)) kill(pid);
  // Give the kernel a moment to reap, then unmount (deepest first).
  for (let i = 0; i < 20 && [...res.namespaces.flatMap(pidsInNetns), ...pidsMentioning(res.dir)].length > 0; i++) execFileSync('sleep', ['0.1']);
  for (const m of mountsUnder(res.dir)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* not mounted any more */
    }
  }
  try {
    rmSync(res.dir, { recursive: true, force: true });
  } catch (e) {
    console.warn(`lab ${res.id}: cannot remove ${res.dir}: ${(e as Error).message}`);
  }
  for (const ns of res.namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  removeCgroups(res.cgroupParent);
}

function pidsInNetns(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Processes whose command line names the lab dir (containerd shims, which live in no lab netns). */
function pidsMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some((a) => a === dir || a.startsWith(`${dir}/`) || a.includes(`unix://${dir}/`))) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function removeCgroups(parent: string): void {
  const root = '/sys/fs/cgroup';
  let controllers: string[] = [];
  try {
    controllers = readdirSync(root);
  } catch {
    return;
  }
  const rmTree = (p: string) => {
    try {
      if (!statSync(p).isDirectory()) return;
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(p, e.name));
      rmdirSync(p);
    } catch {
      /* busy or gone */
    }
  };
  for (const c of controllers) {
    const p = join(root, c, parent);
    if (existsSync(p)) rmTree(p);
  }
  if (existsSync(join(root, parent))) rmTree(join(root, parent));
}
