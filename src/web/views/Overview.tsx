import type { ComponentChildren } from 'preact';
import type { Overview as OverviewData, RulesState } from '../client/types.js';
import { Badge, Empty, Loader, Panel, type Tone } from '../components/ui.js';
import { ago, count, dateTime } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';

const RULES: Record<RulesState, [Tone, string]> = {
  ok: ['good', 'OK: as applied'],
  drifted: ['bad', 'Drifted'],
  absent: ['bad', 'Absent'],
  unknown: ['muted', 'Unknown'],
};

function Stat({ label, children, sub, small }: { label: string; children: ComponentChildren; sub?: ComponentChildren; small?: boolean }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class={small ? 'stat-value small-value' : 'stat-value'}>{children}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

export function OverviewBody({ o }: { o: OverviewData }) {
  const [tone, rulesText] = RULES[o.rules] ?? RULES.unknown;
  return (
    <>
      <div class="stats">
        <Stat label="Backend">{o.backend ?? '—'}</Stat>
        <Stat label="Mode" sub={o.mode === 'audit' ? 'logs, drops nothing' : o.mode === 'enforce' ? 'drops blocked connections' : undefined}>
          {o.mode ? <Badge tone={o.mode === 'enforce' ? 'good' : 'warn'}>{o.mode}</Badge> : '—'}
        </Stat>
        <Stat label="Applied" small sub={o.appliedAt ? ago(o.appliedAt) : 'never applied'}>
          {dateTime(o.appliedAt)}
        </Stat>
        <Stat label="Live rules" sub={o.policyHash ? <span title="policy hash">policy {o.policyHash.slice(0, 16)}</span> : undefined}>
          <Badge tone={tone}>{rulesText}</Badge>
        </Stat>
        <Stat label="Drops, last hour" sub={<a href={href('drops')}>live view</a>}>
          {count(o.drops.lastHour)}
        </Stat>
        <Stat label="Drops, last day">{count(o.drops.lastDay)}</Stat>
        <Stat label="Docker" sub={o.docker.since ? `since ${dateTime(o.docker.since)}` : undefined}>
          <Badge tone={o.docker.up ? 'good' : 'bad'}>{o.docker.up ? 'connected' : 'unreachable'}</Badge>
        </Stat>
        <Stat label="Unprotected containers" sub={<a href={href('coverage')}>coverage</a>}>
          {o.unprotected.length ? <Badge tone="bad">{o.unprotected.length}</Badge> : <Badge tone="good">none</Badge>}
        </Stat>
      </div>

      {o.differences.length > 0 && (
        <Panel title="Differences from what was applied" id="ov-diff">
          <ul class="mono-list">
            {o.differences.map((d) => (
              <li key={d}>{d}</li>
            ))}
          </ul>
        </Panel>
      )}

      <Panel title="Unprotected containers" id="ov-unprot">
        {o.unprotected.length ? (
          <ul class="reasons">
            {o.unprotected.map((u) => (
              <li key={u.container}>
                <a href={href('containers', u.container)}>
                  <strong>{u.container}</strong>
                </a>
                <span class="muted"> — {u.reason}</span>
              </li>
            ))}
          </ul>
        ) : (
          <Empty>Every container is on a covered network.</Empty>
        )}
      </Panel>

      <Panel title="Daemon" id="ov-daemon">
        <dl class="kv">
          <dt>Started</dt>
          <dd>
            {dateTime(o.daemon.startedAt)} <span class="muted">({ago(o.daemon.startedAt)})</span>
          </dd>
          <dt>Applies</dt>
          <dd>{count(o.daemon.applies)}</dd>
          <dt>Set-only updates</dt>
          <dd>{count(o.daemon.setUpdates)}</dd>
          <dt>Drift repairs</dt>
          <dd>{count(o.daemon.repairs)}</dd>
          <dt>Failures</dt>
          <dd>{o.daemon.failures ? <Badge tone="bad">{count(o.daemon.failures)}</Badge> : '0'}</dd>
        </dl>
      </Panel>
    </>
  );
}

export function OverviewView() {
  const state = useApi<OverviewData>('overview', 15_000);
  return <Loader state={state}>{(o) => <OverviewBody o={o} />}</Loader>;
}
