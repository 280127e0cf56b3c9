#!/usr/bin/env node
'use strict';
// The whole CLI lives in the native addon; this shim forwards argv, terminal facts and the exit code.
const { isatty } = require('node:tty');

let native;
try {
  native = require('../lib/native.js');
} catch (err) {
  // No addon for this platform (or a broken one): say which package to install, as the CLI would.
  if (!err || !err.code) throw err;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err.message, code: err.code, hint: err.hint }, null, 2)}\n`);
  } else {
    process.stderr.write(`${err.message}\n${err.hint}\n`);
  }
  process.exit(1);
}

// isatty() rather than process.stdin.isTTY: touching process.stdin would switch the terminal to
// non-blocking mode and break the native prompts.
const code = native.runCli(['hyperframes', ...process.argv.slice(2)], {
  stdin: isatty(0),
  stdout: isatty(1),
  stderr: isatty(2),
});
process.exit(code);
