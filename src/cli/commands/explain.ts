/**
 * `lanfence explain`: why would this connection be dropped, logged, allowed or not judged? Answered by the
 * evaluator from the policy and the inventory; no root needed. Exit 0 whenever it answered: it is a
 * question, not a check.
 */
import { Option } from 'commander';
import { EXIT, UsageError } from '../../errors.js';
import { explain, type Explanation } from '../../explain/index.js';
import { localAddresses } from '../../inventory/host-addresses.js';
import { portText } from '../../policy/ports.js';
import { parseAddress, shortText } from '../../ruleset/cidr.js';
import { resolve } from '../../ruleset/resolve.js';
import type { BlockedEntry } from '../../ruleset/types.js';
import { INVENTORY_HELP, loadInventoryOption, loadPolicyReportingWarnings } from '../context.js';
import { outputState, printJson } from '../output.js';
import { exceptionText } from './plan.js';
import type { CommandModule } from './types.js';

const SOURCE_LABEL: Record<BlockedEntry['source'], string> = {
  default: 'the built-in list (protect.networks: default)',
  networks: 'protect.networks',
  extra: 'protect.extra',
};

/** `10.0.0.0/8 (private, RFC 1918)`: the range and its name, `name (detail)` flattened to `name, detail`. */
export const entryText = (e: BlockedEntry | 'host'): string =>
  e === 'host' ? 'host: every address of the host itself (protect.host, input path)' : `${e.cidr.text} (${e.name.replace(/^(.*?) \((.*)\)$/, '$1, $2')})`;

const originText = (o: { file: string; pos?: { line: number } }): string => `${o.file}${o.pos ? `:${o.pos.line}` : ''}`;

function verdictText(x: Explanation): string {
  switch (x.verdict) {
    case 'dropped':
      return `DROPPED (mode ${x.mode}, action drop)`;
    case 'rejected':
      return `REJECTED (mode ${x.mode}, action reject: TCP reset, ICMP administratively prohibited otherwise)`;
    case 'logged':
      return `LOGGED and passed (mode audit; enforce mode would ${x.action === 'reject' ? 'reject' : 'drop'} it)`;
    case 'allowed':
      return 'ALLOWED by an exception (passed on to the host\'s other rules: Docker\'s, firewalld\'s)';
    case 'passes':
      return 'PASSES (lanfence does not block it)';
    default:
      return 'NOT JUDGED (lanfence\'s rules do not touch it)';
  }
}

function sourceText(x: Explanation): string {
  const f = x.from;
  const parts: string[] = [];
  if (f.kind === 'network') parts.push(`network ${f.network}${f.representative ? ` (as any container on it: ${f.address})` : ''}`);
  else {
    if (f.container) parts.push(`container ${f.container}`);
    else if (f.address) parts.push(`address ${f.address}`);
    if (f.network) parts.push(`network ${f.network}`);
    if (f.address && f.container) parts.push(f.address);
  }
  if (f.bridge) parts.push(`enters through ${f.bridge}`);
  return parts.length ? parts.join(', ') : f.spec;
}

function destinationText(x: Explanation): string {
  const t = x.to;
  const port = t.port !== undefined ? ` port ${t.port}/${t.proto}` : t.proto ? ` (${t.proto}, no port)` : '';
  return `${t.kind === 'host' ? 'host' : t.address}${port}${t.description ? `: ${t.description}` : ''}`;
}

export function formatExplanation(x: Explanation, meta: { policy: string; inventory: string }): string[] {
  const lines = [`lanfence explain: ${x.from.spec} → ${x.to.spec} (policy ${meta.policy}, inventory ${meta.inventory})`];
  lines.push(`verdict:  ${verdictText(x)}`);
  if (x.exception) {
    const e = x.exception;
    lines.push(`decided:  ${exceptionText(e)}`, `          at ${originText(e.origin)} (${e.origin.path})${x.matchedPorts ? `, matched ${portText(x.matchedPorts)}` : ''}`);
  } else if (x.entry) {
    lines.push(`decided:  ${entryText(x.entry)}${x.entry === 'host' ? '' : `, from ${SOURCE_LABEL[x.entry.source]}`}`);
  } else lines.push(`why:      ${x.reason}`);
  lines.push(`from:     ${sourceText(x)}`, `to:       ${destinationText(x)}`);
  if (x.packet) {
    const p = x.packet;
    const dst = p.dport !== undefined ? `${p.dst.includes(':') ? `[${p.dst}]` : p.dst}:${p.dport}` : p.dst;
    lines.push(`packet:   ${p.state ?? 'new'} ${p.proto} ${p.src} → ${dst}, in ${p.iif}${p.oif ? `, out ${p.oif}` : ''}, ${p.path} path`);
  }
  if (x.notes.length) lines.push('notes:', ...x.notes.map((n) => `  ${n}`));
  if (x.suggestion) lines.push(`to allow it, add under allow: in ${meta.policy === '(embedded default)' ? 'your policy' : meta.policy}:`, ...x.suggestion.split('\n').map((l) => `  ${l}`));
  return lines;
}

export function explanationJson(x: Explanation, meta: { policy: string; inventory: string }): Record<string, unknown> {
  const e = x.exception;
  return {
    verdict: x.verdict,
    mode: x.mode,
    action: x.action ?? null,
    reason: x.reason,
    entry: !x.entry ? null : x.entry === 'host' ? { kind: 'host', text: entryText('host') } : { kind: 'range', cidr: x.entry.cidr.text, name: x.entry.name, source: x.entry.source, text: entryText(x.entry) },
    exception: e
      ? {
          index: e.index,
          text: exceptionText(e),
          comment: e.comment ?? null,
          from: e.from,
          to: e.to.kind === 'host' ? 'host' : shortText(e.to.cidr),
          ports: e.ports ? e.ports.map(portText) : null,
          matchedPorts: x.matchedPorts ? portText(x.matchedPorts) : null,
          origin: { file: e.origin.file, line: e.origin.pos?.line ?? null, col: e.origin.pos?.col ?? null, path: e.origin.path },
        }
      : null,
    suggestion: x.suggestion ?? null,
    from: x.from,
    to: x.to,
    packet: x.packet ?? null,
    notes: x.notes,
    policy: meta.policy,
    inventory: meta.inventory,
  };
}

const HELP = `
--to syntax:
  10.0.0.5:5432/tcp     an address, a port, a protocol (tcp when only a port is given)
  [fd12::1]:22/tcp      an IPv6 address with a port is written in brackets
  10.0.0.5, fd12::1     no port: "every port and protocol" (judged as icmp/icmpv6 without a port;
                        only an exception without ports allows it); /udp or /tcp may be added
  host:53/udp           the host itself (the input path), asked as the gateway of the source's network;
                        a gateway address of a Docker network is the host too, and so is every address
                        of this machine when the inventory comes from its Docker (not with --inventory
                        FILE: name the other host's addresses with --host-address)
--from: a container (name or id), a network (a new container on it), or an address (the container
  holding it, else an address on the bridge network whose subnet contains it). container:NAME and
  network:NAME disambiguate.

Exit code 0 whenever a verdict was given, whatever it is (explain is a question, not a check);
64 for a malformed --from/--to or an unknown container or network; 2 for an invalid policy.`;

const collect = (v: string, acc: string[]) => [...acc, ...v.split(',').map((x) => x.trim()).filter(Boolean)];

/**
 * The host's own addresses: given ones (each must parse), else this machine's when the inventory is
 * its Docker's (explain then runs on the host it asks about), else none.
 */
export function hostAddressesFor(given: string[], inventorySource: string, local: () => string[] = localAddresses): string[] {
  for (const a of given) if (!parseAddress(a)) throw new UsageError(`--host-address "${a}" is not an IPv4 or IPv6 address`);
  if (given.length > 0) return given;
  return inventorySource.startsWith('file:') ? [] : local();
}

export const explainCommand: CommandModule = {
  name: 'explain',
  register(program, io, setExit) {
    program
      .command('explain')
      .description('say what the policy does with one connection, which entry decides, and how to allow it (no root needed)')
      .requiredOption('-f, --from <source>', 'container, network or address the connection starts from')
      .requiredOption('-t, --to <destination>', 'ADDRESS[:PORT][/PROTO], [IPv6]:PORT[/PROTO] or host[:PORT][/PROTO]')
      .option('-p, --policy <file>', 'policy file (default /etc/lanfence/policy.yaml, else the embedded default)')
      .option('-i, --inventory <file>', INVENTORY_HELP)
      .addOption(new Option('--state <state>', 'conntrack state of the packet').choices(['new', 'established', 'related']).default('new'))
      .option('--host-address <addr>', "one of the host's own addresses (repeatable; default with Docker's inventory: this machine's)", collect, [])
      .option('--json', 'machine-readable verdict on stdout')
      .addHelpText('after', HELP)
      .action(async (opts: { from: string; to: string; policy?: string; inventory?: string; state: 'new' | 'established' | 'related'; hostAddress: string[]; json?: boolean }) => {
        outputState.json = !!opts.json;
        const loaded = loadPolicyReportingWarnings(opts.policy, io, outputState.json);
        const inv = await loadInventoryOption(opts.inventory);
        const resolved = resolve(loaded.ruleset, inv.inventory);
        let x: Explanation;
        try {
          x = explain(resolved, inv.inventory, { from: opts.from, to: opts.to, state: opts.state, hostAddresses: hostAddressesFor(opts.hostAddress, inv.inventory.source) });
        } catch (e) {
          if (e instanceof UsageError && inv.note) throw new UsageError(`${e.message}; ${inv.note}`);
          throw e;
        }
        if (inv.note) x.notes.unshift(inv.note);
        const meta = { policy: loaded.file, inventory: inv.inventory.source };
        if (outputState.json) printJson(io, explanationJson(x, meta));
        else io.out(formatExplanation(x, meta).join('\n'));
        setExit(EXIT.ok);
      });
  },
};
