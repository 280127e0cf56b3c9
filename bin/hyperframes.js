#!/usr/bin/env node
'use strict';
// The whole CLI lives in the native addon; this shim forwards argv, terminal facts and the exit code.
const { isatty } = require('node:tty');
const native = require('../lib/native.js');

// isatty() rather than process.stdin.isTTY: touching process.stdin would switch the terminal to
// non-blocking mode and break the native prompts.
const code = native.runCli(['hyperframes', ...process.argv.slice(2)], {
  stdin: isatty(0),
  stdout: isatty(1),
  stderr: isatty(2),
});
process.exit(code);
