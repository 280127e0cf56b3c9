'use strict';
// Output paths that are not plain files: a FIFO (the reader gets every byte), /dev/full (an error,
// exit 1, the device untouched), a symlink (followed: its target replaced, the link kept), `-`
// (stdout, with the results on stderr) and a stdout closed by its reader (quiet, exit 141).
// `sfx --provider bundled` and `captions` need no model and no network; the `tts` cases use the
// real Kokoro model and are skipped visibly without it.

const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli, buildEnv, BIN } = require('./support/cli.js');
const { realModelsDir, SKIP_REAL, runRaw } = require('./support/voice.js');

let home;
beforeEach(() => {
  home = makeHome();
});
afterEach(() => home.cleanup());

const run = (args, opts = {}) => runCli(args, { home, ...opts });
const at = (name) => path.join(home.dir, name);
const SFX = ['sfx', 'whoosh', '--provider', 'bundled'];
const WORDS = JSON.stringify([
  { text: 'Hello', start: 0, end: 0.4 },
  { text: 'world', start: 0.5, end: 0.9 },
]);

/** Makes a FIFO and starts reading it; resolves with every byte the reader got. */
function fifoReader(name) {
  const fifo = at(name);
  execFileSync('mkfifo', [fifo]);
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    cat.stdout.on('data', (d) => chunks.push(d));
    cat.on('error', reject);
    cat.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { fifo, done };
}

/** Runs a shell pipeline; resolves {status of the first command, its stderr}. */
function pipeline(args, consumer, env) {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const sh = spawn('bash', ['-c', `${quoted} 2>"$ERR_FILE" | ${consumer} >/dev/null; echo "\${PIPESTATUS[0]}"`], {
      env: { ...buildEnv({ home, env }), ERR_FILE: at('stderr.txt') },
      cwd: home.dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    sh.stdout.on('data', (d) => (out += d));
    sh.on('error', reject);
    sh.on('close', () => resolve({ status: Number(out.trim()), stderr: fs.readFileSync(at('stderr.txt'), 'utf8') }));
  });
}

describe('sfx and captions outputs', () => {
  test('a FIFO gets every byte of the same WAV a file gets, and stays a FIFO', async () => {
    const file = await run([...SFX, '-o', at('plain.wav')]);
    assert.equal(file.code, 0, file.output);
    const { fifo, done } = fifoReader('pipe.wav');
    const r = await run([...SFX, '-o', fifo]);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(await done, fs.readFileSync(at('plain.wav')));
    assert.ok(fs.lstatSync(fifo).isFIFO());
  });

  test('/dev/full is an error (exit 1), never a success, and stays a device', { skip: !fs.existsSync('/dev/full') }, async () => {
    const r = await run([...SFX, '-o', '/dev/full']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /\/dev\/full: No space left on device/);
    assert.doesNotMatch(r.stdout, /✓/);
    assert.ok(fs.statSync('/dev/full').isCharacterDevice());
    const json = await run([...SFX, '-o', '/dev/full', '--json']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).code, 'IO_ERROR');
    fs.writeFileSync(at('words.json'), WORDS);
    const cap = await run(['captions', at('words.json'), '-o', '/dev/full', '--to', 'srt']);
    assert.equal(cap.code, 1, cap.output);
    assert.match(cap.stderr, /No space left on device/);
  });

  test('a symlink is followed: its target gets the new audio and the link stays', async () => {
    fs.writeFileSync(at('target.wav'), 'old');
    fs.symlinkSync('target.wav', at('link.wav'));
    const r = await run([...SFX, '-o', at('link.wav')]);
    assert.equal(r.code, 0, r.output);
    assert.ok(fs.lstatSync(at('link.wav')).isSymbolicLink());
    assert.equal(fs.readFileSync(at('target.wav')).subarray(0, 4).toString(), 'RIFF');
    assert.deepEqual(fs.readdirSync(home.dir).filter((n) => n.endsWith('.tmp')), []);
  });

  test('`-o -` writes the WAV to stdout and the report to stderr; no file named -', async () => {
    const file = await run([...SFX, '-o', at('plain.wav')]);
    assert.equal(file.code, 0, file.output);
    const r = await runRaw([...SFX, '-o', '-', '--json'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout, fs.readFileSync(at('plain.wav')));
    assert.equal(JSON.parse(r.stderr).ok, true);
    assert.ok(!fs.existsSync(at('-')));
  });

  test('captions go to a FIFO and to `-o -`', async () => {
    fs.writeFileSync(at('words.json'), WORDS);
    const { fifo, done } = fifoReader('cap.srt');
    const r = await run(['captions', at('words.json'), '-o', fifo]);
    assert.equal(r.code, 0, r.output);
    assert.match((await done).toString(), /00:00:00,000 --> 00:00:00,900\nHello world/);
    const out = await run(['captions', at('words.json'), '-o', '-', '--to', 'vtt']);
    assert.equal(out.code, 0, out.output);
    assert.match(out.stdout, /^WEBVTT/);
    assert.ok(!fs.existsSync(at('-')));
  });
});

describe('tts outputs (real Kokoro model)', () => {
  const REAL = realModelsDir();
  const skip = REAL ? false : SKIP_REAL;
  const env = { HYPERFRAMES_MODELS_DIR: REAL };
  const TEXT = 'Streaming keeps going until the reader stops listening. '.repeat(6);

  test('`tts --stream | head -c 1000` ends quietly with 141', { skip, timeout: 300_000 }, async () => {
    const r = await pipeline(['tts', TEXT, '--voice', 'jm_kumo', '--lang', 'en-us', '--stream'], 'head -c 1000', env);
    assert.equal(r.stderr, '', 'nothing is printed for a closed pipe');
    assert.equal(r.status, 141);
  });

  test('tts --words to a FIFO and `-o -` to stdout', { skip, timeout: 300_000 }, async () => {
    const { fifo, done } = fifoReader('words.fifo');
    const r = await runRaw(['tts', 'Hello there.', '--voice', 'jm_kumo', '--lang', 'en-us', '-o', '-', '--words', fifo], {
      home,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.subarray(0, 4).toString(), 'RIFF');
    assert.match(r.stderr, /✓/);
    assert.equal(JSON.parse((await done).toString())[0].text, 'Hello');
    assert.ok(!fs.existsSync(at('-')));
  });
});

describe('input messages', () => {
  test('--text-file DIR says it is a directory, not "not found"', async () => {
    fs.mkdirSync(at('scripts'));
    const r = await run(['tts', '--text-file', at('scripts'), '--local-only', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = JSON.parse(r.stdout);
    assert.equal(body.code, 'BAD_INPUT');
    assert.match(body.error, /scripts is a directory/);
    assert.doesNotMatch(body.error, /not found/);
  });
});
