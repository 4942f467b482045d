/**
 * The daemon's JSON API (docs/api.md) answered from fixture data: shared by the mock HTTP server
 * and the component tests' fetch stub. Explain judges with a few rules that mirror the fixture
 * policy (audit mode; allow #1..#4); it is a stand-in, not the evaluator.
 */
import type { Drop, Explanation } from '../../src/web/client/types.js';
import * as fx from './fixtures.js';

export interface MockState {
  now: () => number;
  /** Newest first; pushDrop prepends. */
  drops: Drop[];
}

export function newState(now: () => number = Date.now): MockState {
  return { now, drops: fx.drops(now()) };
}

export interface Answer {
  status: number;
  body: unknown;
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const bad = (status: number, error: string): Answer => ({ status, body: { error } });

export function handleApi(url: URL, state: MockState): Answer {
  const now = state.now();
  const path = url.pathname.replace(/^.*?\/api\//, '');
  const q = url.searchParams;
  if (path === 'overview') return ok(fx.overview(now));
  if (path === 'drops') {
    const since = Number(q.get('since') ?? 0);
    const container = q.get('container');
    const limit = Math.min(Number(q.get('limit') ?? 100) || 100, 1000);
    return ok(
      state.drops
        .filter((d) => (d.time as number) >= since && (!container || d.container === container))
        .slice(0, limit),
    );
  }
  if (path === 'containers') return ok(fx.containers);
  if (path.startsWith('containers/')) {
    const name = decodeURIComponent(path.slice('containers/'.length));
    const detail = fx.containerDetail(now, name);
    return detail ? ok(detail) : bad(404, `no container "${name}"`);
  }
  if (path === 'coverage') return ok(fx.coverage);
  if (path === 'suggestions') return ok(fx.suggestions(now));
  if (path === 'policy') return ok(fx.policy);
  if (path === 'explain') {
    const r = explain(q.get('from') ?? '', q.get('to') ?? '');
    return 'error' in r ? bad(400, r.error) : ok(r);
  }
  return bad(404, `no such API path: /api/${path}`);
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function blockedEntry(addr: string): string | null {
  const m = V4.exec(addr);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a === 10) return fx.PRIVATE_10;
    if (a === 172 && b >= 16 && b < 32) return '172.16.0.0/12 (private, RFC 1918)';
    if (a === 192 && b === 168) return fx.PRIVATE_192;
    if (a === 127) return '127.0.0.0/8 (loopback)';
    if (a === 169 && b === 254) return '169.254.0.0/16 (link-local, RFC 3927, cloud metadata)';
    if (a === 100 && b >= 64 && b < 128) return '100.64.0.0/10 (CGNAT / shared address space, RFC 6598)';
    return null;
  }
  const l = addr.toLowerCase();
  if (/^f[cd]/.test(l)) return fx.ULA;
  if (l.startsWith('fe80')) return 'fe80::/10 (link-local)';
  return null;
}

/** `from` a container, network or address; `to` `addr[:port][/proto]`, `[v6]:port/proto` or `host[:port][/proto]`. */
export function explain(from: string, to: string): Explanation | { error: string } {
  if (!from.trim() || !to.trim()) return { error: 'from and to are both required' };
  const known =
    fx.containers.some((c) => c.name === from) || fx.coverage.networks.some((n) => n.name === from) || V4.test(from) || /^[0-9a-f:]+$/i.test(from);
  if (!known) return { error: `"${from}" is not a container, network or address` };
  const m = /^(host|\[[0-9a-f:]+\]|[0-9.]+|[0-9a-f:]+)(?::(\d{1,5}))?(?:\/(tcp|udp|icmp|icmpv6))?$/i.exec(to.trim());
  if (!m || (m[1] !== 'host' && !m[1].startsWith('[') && !V4.test(m[1]) && !m[1].includes(':')))
    return { error: `"${to}": expected ADDRESS[:PORT][/PROTO] or host[:PORT][/PROTO]` };
  const addr = m[1].replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : null;
  const proto = (m[3] ?? (port ? 'tcp' : '')).toLowerCase();
  if (port !== null && (port < 1 || port > 65535)) return { error: `"${to}": port ${port} is out of range` };

  const un = fx.UNPROTECTED.find((u) => u.container === from);
  if (un) return { verdict: 'not-judged', reason: `${from} is not protected: ${un.reason}` };

  const is = (a: string, p: number, pr: string) => addr === a && port === p && proto === pr;
  const policyOrigin = (line: number, path: string) => ({ file: fx.POLICY_FILE, path, pos: { line, col: 5 } });
  if (addr === '10.57.17.53' && port === 53)
    return { verdict: 'pass', reason: 'allowed by allow #1 (LAN DNS resolver)', exception: { index: 1, comment: 'LAN DNS resolver', origin: policyOrigin(9, 'allow.0') } };
  if (from === 'grafana' && is('192.168.1.10', 9100, 'tcp'))
    return { verdict: 'pass', reason: 'allowed by allow #2 (node exporter on the NAS)', exception: { index: 2, comment: 'node exporter on the NAS', origin: policyOrigin(12, 'allow.1') } };
  if (addr === 'host' && port === 53 && proto === 'udp')
    return { verdict: 'pass', reason: 'allowed by allow #3 (DNS on the host)', exception: { index: 3, comment: 'DNS on the host', origin: policyOrigin(16, 'allow.2') } };
  if (from === 'web' && is('10.57.17.5', 5432, 'tcp'))
    return { verdict: 'pass', reason: 'allowed by allow #4 (label lanfence.allow on web)', exception: { index: 4, origin: { file: 'label lanfence.allow on web', path: 'lanfence.allow' } } };

  const entry = addr === 'host' ? 'host' : blockedEntry(addr);
  if (!entry) return { verdict: 'pass', reason: `${addr} is outside every blocked range: not judged further, the packet goes on` };
  const spec = `${addr === 'host' ? 'host' : addr.includes(':') && port ? `[${addr}]` : addr}${port ? `:${port}` : ''}${proto ? `/${proto}` : ''}`;
  const scope = fx.containers.some((c) => c.name === from) ? `{ container: ${from} }` : fx.coverage.networks.some((n) => n.name === from) ? `{ network: ${from} }` : null;
  const suggestion = [`- to: ${addr}`, port ? `  ports: [${port}/${proto}]` : null, scope ? `  from: ${scope}` : null, `  comment: "${from} → ${spec}"`]
    .filter(Boolean)
    .join('\n');
  return {
    verdict: 'log',
    action: 'drop',
    reason: `${entry === 'host' ? 'host (an address of the host itself)' : entry}: audit mode logs and passes`,
    entry,
    suggestion,
  };
}
