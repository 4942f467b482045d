/**
 * `--to`: `ADDRESS[:PORT][/PROTO]`, `[IPv6]:PORT[/PROTO]`, a bare IPv6 address, or `host[:PORT][/PROTO]`.
 * Without a port the question is "every port and protocol": the packet carries no port, so only
 * exceptions without `ports` can allow it (and the suggestion has no `ports`).
 */
import { UsageError } from '../errors.js';
import { parseAddress, parseCidr, type Family } from '../ruleset/cidr.js';

export type TargetProto = 'tcp' | 'udp' | 'icmp';

export interface Target {
  /** The `--to` text as given. */
  spec: string;
  kind: 'host' | 'address';
  /** Canonical address (kind `address`). */
  address?: string;
  family?: Family;
  port?: number;
  /** Given explicitly, or `tcp` when a port is given; undefined: no port, no protocol given. */
  proto?: TargetProto;
}

const PROTOS: readonly string[] = ['tcp', 'udp', 'icmp', 'icmpv6'];
const SYNTAX = 'ADDRESS[:PORT][/PROTO], [IPv6]:PORT[/PROTO] or host[:PORT][/PROTO] (e.g. 10.0.0.5:5432/tcp, [fd12::1]:22/tcp, host:53/udp)';

function bad(spec: string, why: string): never {
  throw new UsageError(`--to "${spec}": ${why}; expected ${SYNTAX}`);
}

export function parseTarget(spec: string): Target {
  const text = spec.trim();
  if (text === '') bad(spec, 'empty');
  // Split off `/proto` (a numeric suffix is a prefix length: a range, not one address).
  let rest = text;
  let protoText: string | undefined;
  const slash = text.lastIndexOf('/');
  if (slash !== -1) {
    const suffix = text.slice(slash + 1);
    rest = text.slice(0, slash);
    if (/^\d+$/.test(suffix)) {
      const range = parseCidr(text);
      if (range) bad(spec, `${range.cidr.text} is a range: ask about one address in it (e.g. ${range.cidr.address}), and give a protocol as /tcp or /udp`);
      bad(spec, `"/${suffix}" is not a protocol (tcp, udp, icmp)`);
    }
    if (!PROTOS.includes(suffix.toLowerCase())) bad(spec, `unknown protocol "${suffix}" (expected tcp, udp or icmp)`);
    protoText = suffix.toLowerCase();
  }

  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
    if (!host.includes(':')) bad(spec, 'brackets are for IPv6 addresses');
  } else if (rest.includes('[') || rest.includes(']')) {
    bad(spec, 'unbalanced brackets');
  } else if ((rest.match(/:/g) ?? []).length >= 2) {
    host = rest; // a bare IPv6 address: no port (write [addr]:port for one)
  } else {
    const colon = rest.indexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
  }

  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) bad(spec, `"${portText}" is not a port number`);
    port = Number(portText);
    if (port < 1 || port > 65535) throw new UsageError(`--to "${spec}": port ${portText} is out of range (1-65535)`);
  }

  let proto: TargetProto | undefined;
  if (protoText === 'icmp' || protoText === 'icmpv6') {
    if (port !== undefined) bad(spec, `${protoText} has no ports`);
    proto = 'icmp';
  } else if (protoText) proto = protoText as TargetProto;
  else if (port !== undefined) proto = 'tcp';

  if (host === 'host') return { spec, kind: 'host', port, proto };
  const addr = parseAddress(host);
  if (!addr) {
    if (host.includes(':') && !bracket) bad(spec, `"${host}" is not an IPv6 address (an IPv6 address with a port is written in brackets: [fd12::1]:22/tcp)`);
    bad(spec, `"${host}" is not an IPv4 or IPv6 address, or "host"`);
  }
  if (protoText === 'icmpv6' && addr.family === 4) bad(spec, 'icmpv6 to an IPv4 address');
  return { spec, kind: 'address', address: addr.address, family: addr.family, port, proto };
}

/** `10.0.0.5:5432/tcp`, `[fd12::1]:22/tcp`, `host:53/udp`, `10.0.0.5`. */
export function targetText(t: Target, address = t.address): string {
  const a = t.kind === 'host' ? 'host' : address!;
  const withPort = t.port === undefined ? a : `${a.includes(':') ? `[${a}]` : a}:${t.port}`;
  return t.proto ? `${withPort}/${t.proto}` : withPort;
}
