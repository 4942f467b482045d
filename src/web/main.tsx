import { render } from 'preact';
import { captureToken } from './client/token.js';
import { App } from './app.js';
import './styles.css';

captureToken();
try {
  const t = localStorage.getItem('lanfence.theme');
  if (t === 'light' || t === 'dark') document.documentElement.setAttribute('data-theme', t);
} catch {
  /* storage disabled */
}
render(<App />, document.getElementById('app')!);
