/** Kernel-touching tests: run as root; skip with a printed reason locally; never skip in CI. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const isRoot = process.getuid?.() === 0;
export const inCI = process.env.CI === 'true';

/**
 * Returns true when kernel tests can run. Locally without root it prints why they skip; in CI
 * (CI=true) a skip is a failure, so it throws.
 */
export function kernelTestsEnabled(what: string): boolean {
  if (isRoot) return true;
  const reason = `skipping ${what}: needs root (run the suite with sudo)`;
  if (inCI) throw new Error(`${reason} — but CI=true, where a skipped lab test is a failure`);
  console.warn(reason);
  return false;
}

/** Creates a fresh network namespace; returns its name and a cleanup function. */
export function createNetns(prefix: string): { ns: string; remove: () => void } {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  return {
    ns,
    remove: () => {
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    },
  };
}
