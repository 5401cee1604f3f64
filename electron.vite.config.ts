import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';

// One build feeds three hosts: the Electron app (electron.js + preload), web mode (web.js) and the CLI (cli.js).
export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          electron: resolve(__dirname, 'src/main/electron/main.ts'),
          web: resolve(__dirname, 'src/main/web/main.ts'),
          cli: resolve(__dirname, 'src/main/cli/main.ts'),
          worker: resolve(__dirname, 'src/main/worker.ts'),
        },
        external: ['electron'],
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload cannot require node_modules: bundle its few imports.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [vue()],
    build: {
      rollupOptions: { input: resolve(__dirname, 'src/renderer/index.html') },
    },
  },
});
