/** Inventory from the Docker Engine API (dockerode; DOCKER_HOST honoured). */
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { InventoryError } from '../errors.js';
import { ALLOW_LABEL } from '../policy/labels.js';
import type { Inventory, InventoryContainer, InventoryNetwork } from './types.js';

export function dockerClient(): Docker {
  // dockerode reads DOCKER_HOST (unix://, tcp://) itself; default /var/run/docker.sock.
  return new Docker();
}

/** Docker's default bridge is `docker0`; user-defined bridges are `br-<first 12 of id>` unless named. */
export function bridgeName(n: Docker.NetworkInspectInfo): string | undefined {
  if (n.Driver !== 'bridge') return undefined;
  const custom = n.Options?.['com.docker.network.bridge.name'];
  if (custom) return custom;
  if (n.Name === 'bridge') return 'docker0';
  return `br-${n.Id.slice(0, 12)}`;
}

export function toNetwork(n: Docker.NetworkInspectInfo): InventoryNetwork {
  const configs = n.IPAM?.Config ?? [];
  return {
    id: n.Id,
    name: n.Name,
    driver: n.Driver,
    bridge: bridgeName(n),
    subnets: configs.map((c) => c.Subnet).filter((s): s is string => !!s),
    gateways: configs.map((c) => c.Gateway).filter((s): s is string => !!s),
    ipv6: n.EnableIPv6 === true,
    internal: n.Internal === true,
  };
}

export function toContainer(c: Docker.ContainerInfo): InventoryContainer {
  const nets = c.NetworkSettings?.Networks ?? {};
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    networkMode: c.HostConfig?.NetworkMode ?? 'default',
    labels: c.Labels ?? {},
    networks: Object.entries(nets).map(([network, s]) => ({
      network,
      ...(s.IPAddress ? { ipv4: s.IPAddress } : {}),
      ...(s.GlobalIPv6Address ? { ipv6: s.GlobalIPv6Address } : {}),
    })),
    ...(c.Labels?.['com.docker.compose.project'] ? { composeProject: c.Labels['com.docker.compose.project'] } : {}),
  };
}

/** Nameservers a container uses: `--dns`, else those in the resolv.conf Docker wrote for it. */
export function dnsServers(info: Docker.ContainerInspectInfo, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  const explicit = info.HostConfig?.Dns ?? [];
  if (explicit.length > 0) return explicit;
  try {
    return readFile(info.ResolvConfPath)
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((x): x is string => !!x);
  } catch {
    return [];
  }
}

/** Flags `lanfence.allow` labels that the image set (an image must not grant itself access). */
async function markImageLabels(docker: Docker, list: Docker.ContainerInfo[], containers: InventoryContainer[]): Promise<void> {
  const cache = new Map<string, Record<string, string>>();
  await Promise.all(
    containers.map(async (c, i) => {
      const value = c.labels[ALLOW_LABEL];
      if (value === undefined) return;
      const imageId = list[i].ImageID;
      if (!cache.has(imageId)) cache.set(imageId, (await docker.getImage(imageId).inspect()).Config?.Labels ?? {});
      if (cache.get(imageId)![ALLOW_LABEL] === value) c.labelsFromImage = [ALLOW_LABEL];
    }),
  );
}

export interface DockerInventoryOptions {
  /** Also inspect each container for its DNS servers (status). */
  dns?: boolean;
}

export async function loadDockerInventory(docker: Docker = dockerClient(), opts: DockerInventoryOptions = {}): Promise<Inventory> {
  try {
    const [nets, list] = await Promise.all([docker.listNetworks(), docker.listContainers({ all: false })]);
    const containers = list.map(toContainer);
    await markImageLabels(docker, list, containers);
    if (opts.dns) {
      await Promise.all(
        containers.map(async (c) => {
          const info = await docker.getContainer(c.id!).inspect();
          c.dns = dnsServers(info);
        }),
      );
    }
    const networks = nets.map(toNetwork);
    // Docker 20.10 leaves IPAM's Gateway empty for auto-assigned subnets; the containers know it.
    for (const c of list)
      for (const [name, s] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
        const n = networks.find((x) => x.name === name);
        for (const gw of [s.Gateway, s.IPv6Gateway]) if (n && gw && !n.gateways.includes(gw)) n.gateways.push(gw);
      }
    return { networks, containers, source: 'docker' };
  } catch (e) {
    throw new InventoryError(`cannot read Docker's state: ${(e as Error).message}`);
  }
}
