// The browser app: React UI on the main thread, the engine in a module worker
// (src/worker/engine.worker.ts). Shaders are imported with `?raw`, which Vite
// handles natively.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs, so that dist/ works from any path (a static server, a sub-folder).
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
