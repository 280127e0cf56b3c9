#!/usr/bin/env node
'use strict';
// The whole CLI lives in the native addon; this shim forwards argv, terminal facts and the exit code.
const native = require('../lib/native.js');

const code = native.runCli(['hyperframes', ...process.argv.slice(2)], {
  stdin: Boolean(process.stdin.isTTY),
  stdout: Boolean(process.stdout.isTTY),
  stderr: Boolean(process.stderr.isTTY),
});
process.exit(code);
