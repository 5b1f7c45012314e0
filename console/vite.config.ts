// The console's build: a single-page app in console/, bundled to console/dist, which the hub serves
// at its root URL (client routes fall back to index.html). `npm run console:dev` serves it with hot
// reload and forwards the API to a hub on 127.0.0.1:8080 (or ASSENT_HUB_URL), so cookies stay
// same-origin; `vite preview` forwards the same way.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const hub = process.env['ASSENT_HUB_URL'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    // The layout engine's worker (elkjs, ~1.6 MB) is loaded only when a statechart is shown.
    chunkSizeWarningLimit: 1700,
  },
  server: {
    proxy: {
      '/v1': { target: hub, changeOrigin: false },
      '/auth': { target: hub, changeOrigin: false },
      '/metrics': { target: hub, changeOrigin: false },
    },
  },
});
