// The standalone page, served by `netobserv-console` at `/` (its files under `build/standalone`).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'build/standalone',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
    reportCompressedSize: true,
  },
  oxc: { jsx: { runtime: 'automatic' } },
});
