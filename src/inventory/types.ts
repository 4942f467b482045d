/** What Docker has: networks and containers. From the Engine API or an `--inventory` JSON snapshot. */
export interface InventoryNetwork {
  id?: string;
  name: string;
  /** bridge, overlay, macvlan, ipvlan, host, null, ... */
  driver: string;
  /** Linux interface of a bridge network (docker0, br-<id12>, or a custom name). */
  bridge?: string;
  subnets: string[];
  gateways: string[];
  ipv6: boolean;
  internal: boolean;
}

export interface ContainerAttachment {
  network: string;
  ipv4?: string;
  ipv6?: string;
}

export interface InventoryContainer {
  id?: string;
  name: string;
  /** default/bridge, host, none, container:<id>, or a network name. */
  networkMode: string;
  labels: Record<string, string>;
  networks: ContainerAttachment[];
  composeProject?: string;
  /** Label keys whose value comes from the image rather than the container's own configuration. */
  labelsFromImage?: string[];
  /** DNS servers configured for the container, if known. */
  dns?: string[];
}

export interface Inventory {
  networks: InventoryNetwork[];
  containers: InventoryContainer[];
  /** Where this inventory came from, for headers: `docker`, `file:<path>`, `none`. */
  source: string;
}

export const emptyInventory = (): Inventory => ({ networks: [], containers: [], source: 'none' });
