/**
 * The web dashboard (src/web) → dist/web, served by the daemon. Relative asset paths (base './') so it
 * works under any path prefix; no CDN, everything is in dist/web.
 *
 * `npm run dev:web` serves it with hot reload and proxies /api to LANFENCE_API
 * (default the mock server: `npx tsx test/web/mock-server.ts`, http://127.0.0.1:9732).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('./src/web'),
  base: './',
  publicDir: false,
  clearScreen: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: here('./dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 100,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/api': { target: process.env.LANFENCE_API ?? 'http://127.0.0.1:9732' } },
  },
});
