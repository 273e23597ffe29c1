import { defineConfig } from 'vite';

// Built into dist/, which the gateway serves under /console/ with
// `Content-Security-Policy: default-src 'self'`: no inline scripts or styles,
// no external fonts or CDNs.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
