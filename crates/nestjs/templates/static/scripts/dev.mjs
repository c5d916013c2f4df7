// `npm run start:dev`: TypeScript in watch mode, and the app started again after every build
// without errors (the previous one stopped first, so the port is free). Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--watch', '--preserveWatchOutput'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let app;
let stopping = false;

function start() {
  if (stopping) return;
  app = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], { stdio: 'inherit' });
}

function restart() {
  const old = app;
  app = undefined;
  if (old && old.exitCode === null && old.signalCode === null) {
    old.once('exit', start);
    old.kill('SIGTERM');
  } else {
    start();
  }
}

tsc.stdout.setEncoding('utf8');
let pending = '';
tsc.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  // tsc --watch ends each build with "Found N errors. Watching for file changes."
  if (lines.some((l) => /Found 0 errors\b/.test(l))) restart();
});
tsc.on('exit', (code) => {
  if (!stopping) process.exit(code ?? 1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    tsc.kill('SIGTERM');
    if (app && app.exitCode === null) {
      app.once('exit', () => process.exit(0));
      app.kill('SIGTERM');
    } else {
      process.exit(0);
    }
  });
}
