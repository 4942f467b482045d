/** The shell: header with the view tabs and the theme toggle, then the current view. */
import { useEffect, useRef } from 'preact/hooks';
import { ContainersView } from './views/Containers.js';
import { CoverageView } from './views/Coverage.js';
import { LiveDropsView } from './views/LiveDrops.js';
import { OverviewView } from './views/Overview.js';
import { PolicyView } from './views/Policy.js';
import { SuggestionsView } from './views/Suggestions.js';
import { href, useRoute, VIEWS, type Route } from './router.js';
import { useTheme, type ThemeChoice } from './theme.js';

const NEXT: Record<ThemeChoice, ThemeChoice> = { auto: 'light', light: 'dark', dark: 'auto' };

function ThemeToggle() {
  const [choice, setChoice, effective] = useTheme();
  return (
    <button
      type="button"
      class="btn btn-ghost theme-toggle"
      onClick={() => setChoice(NEXT[choice])}
      title={`Theme: ${choice}${choice === 'auto' ? ` (${effective})` : ''}. Click for ${NEXT[choice]}.`}
      aria-label={`Theme: ${choice}${choice === 'auto' ? `, following the system (${effective})` : ''}. Switch to ${NEXT[choice]}.`}
    >
      <span aria-hidden="true">{effective === 'dark' ? '☾' : '☀'}</span>
      <span class="theme-label">{choice}</span>
    </button>
  );
}

function title(route: Route): string {
  if (route.view === 'containers' && route.param) return route.param;
  return VIEWS.find((v) => v.view === route.view)?.label ?? 'Overview';
}

function Current({ route }: { route: Route }) {
  switch (route.view) {
    case 'drops':
      return <LiveDropsView initialContainer={route.query.get('container') ?? ''} />;
    case 'containers':
      return <ContainersView name={route.param} />;
    case 'coverage':
      return <CoverageView />;
    case 'suggestions':
      return <SuggestionsView />;
    case 'policy':
      return <PolicyView from={route.query.get('from') ?? ''} to={route.query.get('to') ?? ''} />;
    default:
      return <OverviewView />;
  }
}

export function App() {
  const route = useRoute();
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  const pageTitle = title(route);
  const key = `${route.view}/${route.param ?? ''}`;

  useEffect(() => {
    document.title = `${pageTitle} · lanfence`;
    // Moving to another view puts the focus on its heading (keyboard and screen reader users land there).
    if (first.current) first.current = false;
    else heading.current?.focus();
  }, [key]);

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), heading.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ▦
          </span>
          lanfence
        </div>
        <nav aria-label="Views">
          <ul class="tabs">
            {VIEWS.map((v) => (
              <li key={v.view}>
                <a href={href(v.view)} class="tab" aria-current={route.view === v.view ? 'page' : undefined}>
                  {v.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <ThemeToggle />
      </header>
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>
          {route.view === 'containers' && route.param ? <span class="muted">Container </span> : null}
          {pageTitle}
        </h1>
        <Current key={key} route={route} />
      </main>
    </>
  );
}
