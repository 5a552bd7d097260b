import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';

// React's production errors say "visit https://react.dev/errors/N": nothing is fetched, but the
// app promises no outside address at all, so the message names the page without a scheme.
function noOutsideURLs(): Plugin {
  return {
    name: 'jamd-no-outside-urls',
    renderChunk(code) {
      return code.includes('https://react.dev/errors/') ? code.replaceAll('https://react.dev/errors/', 'react.dev/errors/') : null;
    },
  };
}

// dist/ is committed and rebuilt by CI, which diffs it: keep the output deterministic
// (no timestamps, no absolute paths) and self-contained (no external URLs: offline LAN).
export default defineConfig({
  base: '/',
  plugins: [react(), noOutsideURLs()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite` against a jamd on :8080: npm run dev is not needed for the build.
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/api': 'http://127.0.0.1:8080',
    },
  },
});
