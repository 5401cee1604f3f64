// `npm start`: the desktop app where Electron can run; otherwise web mode, saying why.
import { spawn } from 'node:child_process';
import { findElectronBinary } from './electron-binary.mjs';

const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const electron = headless ? { path: null, reason: 'there is no display (DISPLAY/WAYLAND_DISPLAY unset)' } : findElectronBinary();
const [command, args] = electron.path
  ? [process.execPath, ['node_modules/electron-vite/bin/electron-vite.js', 'preview', '--skipBuild']]
  : [process.execPath, ['out/main/web.js', ...process.argv.slice(2)]];
if (!electron.path) console.log(`LabelLoop: starting web mode because ${electron.reason}.`);
const child = spawn(command, args, { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
