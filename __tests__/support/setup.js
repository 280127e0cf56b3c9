'use strict';
// Per-file wiring: one contract server for the file (reset before each test), a fresh temp HOME per
// test, and `ctx.run(args, opts)` bound to both.

const { before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startServer } = require('./contract-server.js');
const { makeHome, runCli } = require('./cli.js');

function useContract() {
  const ctx = {};
  before(async () => {
    ctx.server = await startServer();
  });
  after(async () => {
    await ctx.server.stop();
  });
  beforeEach(() => {
    ctx.server.reset();
    ctx.home = makeHome();
  });
  afterEach(() => {
    ctx.home.cleanup();
  });
  ctx.run = (args, opts = {}) => runCli(args, { server: ctx.server, home: ctx.home, ...opts });
  return ctx;
}

/** Asserts that none of `secrets` occurs in `text` (reports which one, not the whole text). */
function assertNoSecrets(text, secrets, label = 'output') {
  for (const s of secrets) {
    if (!s) continue;
    assert.ok(!text.includes(s), `${label} leaks a secret (${s.slice(0, 12)}…):\n${text}`);
  }
}

function fileMode(p) {
  return fs.statSync(p).mode & 0o777;
}

/** An ISO time `secs` from now, with milliseconds (as hyperframes writes it). */
function isoIn(secs) {
  return new Date(Date.now() + secs * 1000).toISOString();
}

/** Parses JSON, failing with the text when it is not JSON. */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    assert.fail(`not JSON (${e.message}):\n${text}`);
  }
}

/** The `--json` result of a run that succeeded: exit 0 and `ok: true`. */
function okJson(r) {
  assert.equal(r.code, 0, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, true, r.stdout);
  return j;
}

/** The `--json` result of a run that failed with `code`: exit 1, `ok: false`, a message. */
function failJson(r, code) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, false, r.stdout);
  assert.equal(j.code, code, r.stdout);
  assert.ok(typeof j.error === 'string' && j.error.length > 5, r.stdout);
  return j;
}

module.exports = { useContract, assertNoSecrets, fileMode, isoIn, parseJson, okJson, failJson };
