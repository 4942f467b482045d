/** Builds dist/ once so tests that run bin/lanfence (CLI, lab) use the current code. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}
