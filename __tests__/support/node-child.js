'use strict';
// Runs a Node script in a child process (the product as a program using the JS API sees it).

const { spawn } = require('node:child_process');

/** Runs `script` with `node -e` and `env`; resolves {code, signal, stdout, stderr} (killed after `timeoutMs`). */
function runNodeScript(script, env, { timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

module.exports = { runNodeScript };
