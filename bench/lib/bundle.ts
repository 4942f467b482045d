/**
 * Bundles bench/child/main.ts and the product code it uses into .mjs files (one, and a chunk per lazily imported part); npm packages stay external
 * and load from node_modules, as they do for the installed product. The file is written under
 * node_modules/.cache (ignored by git) so that those imports resolve, and removed at exit.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { onCleanup } from './sys.js';
import { rmSync } from 'node:fs';

export async function bundleChild(): Promise<string> {
  const cache = fileURLToPath(new URL('../../node_modules/.cache/', import.meta.url));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'lanfence-bench-child-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  // Split at dynamic imports: what the product loads lazily (the daemon's JSON API) is a chunk loaded when imported, as in dist/.
  await build({
    entryPoints: { 'bench-child': fileURLToPath(new URL('../child/main.ts', import.meta.url)) },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    packages: 'external',
    logLevel: 'error',
  });
  return join(dir, 'bench-child.mjs');
}
