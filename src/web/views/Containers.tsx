/** Containers: the list, and one container — what it tried to reach over time, its exceptions, its networks. */
import type { ContainerDetail, ContainerSummary } from '../client/types.js';
import { SeriesChart } from '../components/Chart.js';
import { Badge, Empty, Loader, Panel, TableWrap } from '../components/ui.js';
import { ago, count, counted, dateTime, originText, target } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';

function NetworksTable({ networks }: { networks: ContainerSummary['networks'] }) {
  if (!networks.length) return <Empty>Not attached to any network.</Empty>;
  return (
    <TableWrap label="Networks">
      <thead>
        <tr>
          <th scope="col">Network</th>
          <th scope="col">Bridge</th>
          <th scope="col">IPv4</th>
          <th scope="col">IPv6</th>
        </tr>
      </thead>
      <tbody>
        {networks.map((n) => (
          <tr key={n.network}>
            <td>{n.network}</td>
            <td class="mono">{n.bridge ?? <span class="muted">none</span>}</td>
            <td class="mono">{n.ipv4 ?? '—'}</td>
            <td class="mono">{n.ipv6 ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}

export function ContainerList({ list }: { list: ContainerSummary[] }) {
  if (!list.length) return <Empty>No containers.</Empty>;
  return (
    <TableWrap label="Containers">
      <thead>
        <tr>
          <th scope="col">Container</th>
          <th scope="col">Networks</th>
          <th scope="col">Addresses</th>
        </tr>
      </thead>
      <tbody>
        {[...list]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((c) => (
            <tr key={c.id}>
              <td>
                <a href={href('containers', c.name)}>{c.name}</a>
                <div class="muted small mono">{c.id.slice(0, 12)}</div>
              </td>
              <td>{c.networks.map((n) => n.network).join(', ') || <span class="muted">none</span>}</td>
              <td class="mono small">
                {c.networks
                  .flatMap((n) => [n.ipv4, n.ipv6])
                  .filter(Boolean)
                  .join(', ') || '—'}
              </td>
            </tr>
          ))}
      </tbody>
    </TableWrap>
  );
}

export function ContainerBody({ c }: { c: ContainerDetail }) {
  const total = c.series.reduce((s, p) => s + p.count, 0);
  const labels = Object.entries(c.labels ?? {});
  return (
    <>
      <p class="lede">
        <span class="mono muted">{c.id.slice(0, 12)}</span> · {counted(total, 'drop attempt')} in 24 h ·{' '}
        <a href={href('drops', undefined, { container: c.name })}>live drops of {c.name}</a>
      </p>
      <Panel title="What it tried to reach (24 h, 5-minute buckets)" id="ct-chart">
        <SeriesChart points={c.series} label={`Drop attempts of ${c.name} over the last 24 hours`} />
      </Panel>
      <Panel title="Destinations" id="ct-dest">
        {c.destinations.length ? (
          <TableWrap label="Destinations" wide>
            <thead>
              <tr>
                <th scope="col">Destination</th>
                <th scope="col">Blocked by</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">First</th>
                <th scope="col">Last</th>
                <th scope="col">
                  <span class="sr-only">Explain</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...c.destinations]
                .sort((a, b) => b.count - a.count)
                .map((d) => {
                  const to = target(d.dst, d.port, d.proto);
                  return (
                    <tr key={to}>
                      <td class="mono">{to}</td>
                      <td>{d.entry ?? '—'}</td>
                      <td class="num">{count(d.count)}</td>
                      <td class="nowrap">{dateTime(d.first)}</td>
                      <td class="nowrap" title={dateTime(d.last)}>
                        {ago(d.last)}
                      </td>
                      <td>
                        <a class="small" href={href('policy', undefined, { from: c.name, to })} aria-label={`Explain ${c.name} to ${to}`}>
                          explain
                        </a>
                      </td>
                    </tr>
                  );
                })}
            </tbody>
          </TableWrap>
        ) : (
          <Empty>No blocked attempts recorded.</Empty>
        )}
      </Panel>
      <div class="cols">
        <Panel title="Exceptions that apply" id="ct-exc">
          {c.exceptions.length ? (
            <ul class="exceptions">
              {c.exceptions.map((e) => (
                <li key={e.index}>
                  <Badge tone="info">{`allow #${e.index}`}</Badge> <span class="mono">{e.text}</span>
                  <div class="muted small">{originText(e.origin)}</div>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No exception applies to this container.</Empty>
          )}
        </Panel>
        <Panel title="Networks" id="ct-net">
          <NetworksTable networks={c.networks} />
        </Panel>
      </div>
      {labels.length > 0 && (
        <details class="panel">
          <summary>{`Labels (${labels.length})`}</summary>
          <dl class="kv mono small">
            {labels.map(([k, v]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}>{v}</dd>])}
          </dl>
        </details>
      )}
    </>
  );
}

export function ContainersView({ name }: { name?: string }) {
  const list = useApi<ContainerSummary[]>(name ? null : 'containers', 30_000);
  const detail = useApi<ContainerDetail>(name ? `containers/${encodeURIComponent(name)}` : null, 30_000);
  if (name)
    return (
      <>
        <p class="crumbs">
          <a href={href('containers')}>← All containers</a>
        </p>
        <Loader state={detail}>{(c) => <ContainerBody c={c} />}</Loader>
      </>
    );
  return <Loader state={list}>{(l) => <ContainerList list={l} />}</Loader>;
}
