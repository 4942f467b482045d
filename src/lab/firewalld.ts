/**
 * A real firewalld inside a lab network namespace, on a private D-Bus, with a private copy of its
 * configuration — the machine's system bus and /etc/firewalld are never used.
 *
 * - D-Bus: `dbus-daemon --fork` with a bus configuration written here: it listens only on
 *   `<dir>/dbus.sock`, runs as root (the stock system.conf switches to `messagebus`, which cannot
 *   create a socket in a 0700 directory) and has no service directories, so nothing is ever
 *   bus-activated (the stock configuration would launch polkitd or systemd units on demand).
 *   firewalld falls back to a uid-0 check when polkit is absent.
 * - Configuration: `--system-config <dir>/etc-firewalld` (firewalld.conf written here, a `docker`
 *   zone with target ACCEPT, empty everything else) and `--default-config /usr/lib/firewalld`, the
 *   distribution's read-only defaults. direct.xml is written into the private copy.
 * - firewalld: `nsenter --net=/run/netns/<netns> firewalld --nofork --nopid ...` with
 *   `DBUS_SYSTEM_BUS_ADDRESS` pointing at the private bus; logs go to `<dir>/firewalld.log`.
 *   After start the bus is asked who owns org.fedoraproject.FirewallD1: it must be this process,
 *   running with the private `--system-config`.
 *
 * Side effect outside the lab: firewalld creates /run/firewalld (an empty temp directory) if absent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { inNetns, runCommand, type Runner } from '../exec.js';

export interface FirewalldHandle {
  /** `DBUS_SYSTEM_BUS_ADDRESS` for firewall-cmd, lanfence and dockerd. */
  env: Record<string, string>;
  /** Stops firewalld and its bus and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface FirewalldOptions {
  /** Network namespace (under /run/netns) firewalld manages. */
  netns: string;
  /** Private directory for the bus socket, the configuration copy and logs; removed by stop(). */
  dir: string;
  /** firewalld's FirewallBackend (default nftables, as on current RHEL/Fedora/Debian). */
  backend?: 'nftables' | 'iptables';
}

/** A runner that adds environment variables (e.g. the lab's D-Bus address) to every command. */
export const withEnv =
  (env: Record<string, string>, run: Runner = runCommand): Runner =>
  (cmd, args, opts) =>
    run('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], opts);

/** Runs commands inside `netns` with firewalld's D-Bus address: what lanfence's firewalld backend needs. */
export const firewalldRunner = (netns: string, env: Record<string, string>): Runner => withEnv(env, inNetns(netns));

const FIREWALLD_CONF = (backend: string) => `# lanfence lab: private firewalld configuration
DefaultZone=public
CleanupOnExit=yes
CleanupModulesOnExit=no
Lockdown=no
IPv6_rpfilter=yes
IndividualCalls=no
LogDenied=off
FirewallBackend=${backend}
FlushAllOnReload=yes
`;

const DOCKER_ZONE = `<?xml version="1.0" encoding="utf-8"?>
<zone version="1.0" target="ACCEPT">
  <short>docker</short>
  <description>zone for docker bridge network interfaces</description>
</zone>
`;

const busConfig = (socket: string) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');

export async function startFirewalld({ netns, dir, backend = 'nftables' }: FirewalldOptions): Promise<FirewalldHandle> {
  const nsPath = `/run/netns/${netns}`;
  if (!existsSync(nsPath)) throw new Error(`startFirewalld: no network namespace ${netns}`);
  const socket = join(dir, 'dbus.sock');
  if (socket.length > 100) throw new Error(`startFirewalld: ${socket} is too long for a unix socket path`);
  const defaultConfig = ['/usr/lib/firewalld', '/usr/share/firewalld'].find((p) => existsSync(join(p, 'zones')));
  if (!defaultConfig) throw new Error('startFirewalld: firewalld is not installed (no /usr/lib/firewalld/zones)');

  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  const etc = join(dir, 'etc-firewalld');
  for (const sub of ['zones', 'services', 'icmptypes', 'ipsets', 'helpers', 'policies']) mkdirSync(join(etc, sub), { recursive: true });
  writeFileSync(join(etc, 'firewalld.conf'), FIREWALLD_CONF(backend));
  writeFileSync(join(etc, 'zones', 'docker.xml'), DOCKER_ZONE);
  writeFileSync(join(dir, 'bus.conf'), busConfig(socket));

  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}` };
  const run = firewalldRunner(netns, env);
  let busPid = 0;
  let firewalld: ChildProcess | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (firewalld && !exited(firewalld)) {
      firewalld.kill('SIGTERM');
      const until = Date.now() + 15_000;
      while (!exited(firewalld) && Date.now() < until) await sleep(100);
      if (!exited(firewalld)) firewalld.kill('SIGKILL');
    }
    if (busPid > 0) {
      try {
        process.kill(busPid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const bus = await runCommand('nsenter', [`--net=${nsPath}`, 'dbus-daemon', `--config-file=${join(dir, 'bus.conf')}`, '--fork', '--nopidfile', '--print-pid']);
    busPid = Number(bus.stdout.trim().split('\n').pop());
    if (bus.code !== 0 || !Number.isInteger(busPid) || busPid <= 0) throw new Error(`dbus-daemon failed (exit ${bus.code}): ${bus.stderr}`);

    const log = join(dir, 'firewalld.log');
    const out = openSync(join(dir, 'firewalld.out'), 'a');
    const args = [`--net=${nsPath}`, 'firewalld', '--nofork', '--nopid', '--system-config', etc, '--default-config', defaultConfig, '--log-target', 'file', '--log-file', log];
    firewalld = spawn('nsenter', args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
    closeSync(out);
    const proc = firewalld;

    let state = '';
    for (const until = Date.now() + 30_000; Date.now() < until; await sleep(200)) {
      if (exited(proc)) throw new Error(`firewalld exited (${proc.exitCode ?? proc.signalCode}):\n${tail(join(dir, 'firewalld.out'))}\n${tail(log)}`);
      state = (await run('firewall-cmd', ['--state'])).stdout.trim();
      if (state === 'running') break;
    }
    if (state !== 'running') throw new Error(`firewalld did not start (firewall-cmd --state: ${state || 'no answer'}):\n${tail(log)}`);

    // Is the firewalld on this bus ours, with the private configuration? Never the machine's.
    const owner = await run('dbus-send', ['--system', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
      'org.freedesktop.DBus.GetConnectionUnixProcessID', 'string:org.fedoraproject.FirewallD1']);
    const pid = Number(/uint32 (\d+)/.exec(owner.stdout)?.[1]);
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') : [];
    const configIdx = cmdline.indexOf('--system-config');
    if (pid !== proc.pid || configIdx === -1 || cmdline[configIdx + 1] !== etc)
      throw new Error(`the firewalld on the private bus is not the one started here (pid ${pid}, ${cmdline.join(' ')})`);
    const target = await run('firewall-cmd', ['--permanent', '--zone=docker', '--get-target']);
    if (target.stdout.trim() !== 'ACCEPT') throw new Error(`firewalld's docker zone: target ${target.stdout.trim()} ${target.stderr.trim()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { env, stop };
}
