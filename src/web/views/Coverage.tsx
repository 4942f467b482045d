/** Coverage: every Docker network and container, protected or not, with the reason. */
import { useState } from 'preact/hooks';
import type { Coverage } from '../client/types.js';
import { Badge, Empty, Loader, Panel, TableWrap } from '../components/ui.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';

export function CoverageBody({ cov }: { cov: Coverage }) {
  const [onlyUnprotected, setOnly] = useState(false);
  const unprotected = cov.containers.filter((c) => !c.protected);
  // Docker's `none` network carries no traffic: not covered, but nothing to worry about either.
  const idle = (n: Coverage['networks'][number]) => !n.covered && n.driver === 'null';
  const uncovered = cov.networks.filter((n) => !n.covered && !idle(n));
  const rank = (n: Coverage['networks'][number]) => (n.covered ? 2 : idle(n) ? 1 : 0);
  const containers = [...(onlyUnprotected ? unprotected : cov.containers)].sort(
    (a, b) => Number(a.protected) - Number(b.protected) || a.name.localeCompare(b.name),
  );
  return (
    <>
      <p class="lede">
        {`${cov.networks.length} networks `}
        {uncovered.length ? <Badge tone="bad">{`${uncovered.length} not covered`}</Badge> : <Badge tone="good">all covered</Badge>}
        {` · ${cov.containers.length} containers `}
        {unprotected.length ? <Badge tone="bad">{`${unprotected.length} unprotected`}</Badge> : <Badge tone="good">all protected</Badge>}
      </p>
      <Panel title="Networks" id="cov-net">
        <TableWrap label="Networks">
          <thead>
            <tr>
              <th scope="col">Network</th>
              <th scope="col">Driver</th>
              <th scope="col">Bridge</th>
              <th scope="col">Covered</th>
              <th scope="col">IPv6</th>
              <th scope="col">Subnets</th>
            </tr>
          </thead>
          <tbody>
            {[...cov.networks]
              .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
              .map((n) => (
                <tr key={n.name}>
                  <td>
                    {n.name}
                    {n.internal && <div class="muted small">internal</div>}
                  </td>
                  <td>{n.driver}</td>
                  <td class="mono">{n.bridge ?? '—'}</td>
                  <td>
                    {n.covered ? <Badge tone="good">covered</Badge> : idle(n) ? <Badge tone="muted">nothing to filter</Badge> : <Badge tone="bad">not covered</Badge>}
                    {!n.covered && n.reason && <div class="muted small">{n.reason}</div>}
                  </td>
                  <td>{n.ipv6 ? 'on' : 'off'}</td>
                  <td class="mono small">{n.subnets.join(', ') || '—'}</td>
                </tr>
              ))}
          </tbody>
        </TableWrap>
      </Panel>
      <Panel
        title="Containers"
        id="cov-ct"
        actions={
          <label class="check">
            <input type="checkbox" checked={onlyUnprotected} onChange={(e) => setOnly((e.currentTarget as HTMLInputElement).checked)} /> only
            unprotected
          </label>
        }
      >
        {containers.length ? (
          <TableWrap label="Containers">
            <thead>
              <tr>
                <th scope="col">Container</th>
                <th scope="col">Networks</th>
                <th scope="col">Protected</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {containers.map((c) => (
                <tr key={c.name} class={c.protected ? undefined : 'row-bad'}>
                  <td>
                    <a href={href('containers', c.name)}>{c.name}</a>
                  </td>
                  <td>{c.networks.join(', ') || '—'}</td>
                  <td>{c.protected ? <Badge tone="good">protected</Badge> : <Badge tone="bad">unprotected</Badge>}</td>
                  <td>{c.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        ) : (
          <Empty>{onlyUnprotected ? 'Every container is protected.' : 'No containers.'}</Empty>
        )}
      </Panel>
    </>
  );
}

export function CoverageView() {
  const state = useApi<Coverage>('coverage', 30_000);
  return <Loader state={state}>{(c) => <CoverageBody cov={c} />}</Loader>;
}
