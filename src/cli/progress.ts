/** Progress lines on stderr for anything slow (quiet with --json unless on a terminal). */
import type { Io } from './output.js';

export function progress(io: Io, enabled: boolean): (step: string) => void {
  const start = Date.now();
  return (step) => {
    if (enabled) io.err(`… ${step} (${((Date.now() - start) / 1000).toFixed(1)}s)`);
  };
}
