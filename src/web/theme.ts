/** Light and dark themes: follows prefers-color-scheme unless the toggle chose one (kept in localStorage). */
import { useEffect, useState } from 'preact/hooks';

export type ThemeChoice = 'auto' | 'light' | 'dark';
const KEY = 'lanfence.theme';

function read(): ThemeChoice {
  try {
    const v = window.localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

function systemDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches;
}

export function effectiveTheme(choice: ThemeChoice): 'light' | 'dark' {
  return choice === 'auto' ? (systemDark() ? 'dark' : 'light') : choice;
}

function applyTheme(choice: ThemeChoice): void {
  const root = document.documentElement;
  if (choice === 'auto') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', choice);
  window.dispatchEvent(new CustomEvent('lanfence-theme'));
}

/** The choice, a setter, and the theme in effect (re-rendered when the system preference changes). */
export function useTheme(): [ThemeChoice, (c: ThemeChoice) => void, 'light' | 'dark'] {
  const [choice, setChoice] = useState<ThemeChoice>(read);
  const [, setSystem] = useState(0);
  useEffect(() => {
    applyTheme(choice);
    try {
      if (choice === 'auto') window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch {
      /* storage disabled */
    }
  }, [choice]);
  useEffect(() => {
    if (typeof window.matchMedia !== 'function') return;
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const on = () => {
      setSystem((n) => n + 1);
      window.dispatchEvent(new CustomEvent('lanfence-theme'));
    };
    mq.addEventListener?.('change', on);
    return () => mq.removeEventListener?.('change', on);
  }, []);
  return [choice, setChoice, effectiveTheme(choice)];
}
