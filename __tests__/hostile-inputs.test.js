'use strict';
// Hostile and careless inputs (issue 22, items 1, 2 and 16): a device, a FIFO, a link to
// /dev/zero, a sparse file of a gigabyte or a 160 KB FLAC holding hours of silence, given where a
// file is read. Each is a clear error with a code, exit 1 (or a per-item error), and no hang: every
// spawned CLI has a timeout far below what reading /dev/zero or waiting on a FIFO would take. The
// contract servers on 127.0.0.1 stand in for the providers; no model is needed (every input is
// refused before one would load).

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson } = require('./support/setup.js');
const { useMedia, KEYS, MP3_SECONDS, useApiEnv } = require('./support/media-servers.js');

const TIMEOUT_MS = 30_000;
let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const at = (name) => path.join(home.dir, name);

async function run(args, { keys = { heygen: true, eleven: true, gemini: true }, env = {}, input } = {}) {
  const r = await runCli(args, { home, input, timeoutMs: TIMEOUT_MS, env: { ...media.env(keys), ...env } });
  assertNoSecrets(r.output, Object.values(KEYS), `hyperframes ${args.join(' ')}`);
  return r;
}

/** exit 1, one JSON object `{ok:false, code, error}` on stdout, a message matching `re`. */
function refused(r, code, re) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, false, r.stdout);
  assert.equal(j.code, code, r.stdout);
  if (re) assert.match(j.error, re);
  return j;
}

function fifo(name) {
  execFileSync('mkfifo', [at(name)]);
  return at(name);
}

function zeroLink(name) {
  fs.symlinkSync('/dev/zero', at(name));
  return at(name);
}

function sparse(name, bytes = 2 ** 30) {
  fs.closeSync(fs.openSync(at(name), 'w'));
  fs.truncateSync(at(name), bytes);
  return at(name);
}

// ---- a real FLAC of silence, as small as FLAC allows (the decompression bomb) --------------------

function crc8(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** FLAC's UTF-8-style frame number. */
function coded(n) {
  if (n < 0x80) return [n];
  const len = n < 0x800 ? 2 : n < 0x10000 ? 3 : 4;
  const out = new Array(len).fill(0);
  let rest = n;
  for (let i = len - 1; i > 0; i--) {
    out[i] = 0x80 | (rest & 0x3f);
    rest >>= 6;
  }
  out[0] = [0, 0, 0xc0, 0xe0, 0xf0][len] | rest;
  return out;
}

/**
 * `frames` frames of mono 16-bit silence at 48 kHz: one CONSTANT subframe per 65 535-frame block,
 * about 12 bytes a block, so 672 M frames (3.9 hours) fit in about 160 KB. The length is claimed.
 */
function silentFlac(frames) {
  const BLOCK = 65535;
  const parts = [Buffer.from('fLaC'), Buffer.from([0x80, 0, 0, 34])];
  const info = Buffer.alloc(34);
  info.writeUInt16BE(BLOCK, 0);
  info.writeUInt16BE(BLOCK, 2);
  // 20 bits rate, 3 bits channels - 1, 5 bits bits-per-sample - 1, 36 bits total frames.
  const packed = (48000n << 44n) | (15n << 36n) | BigInt(frames);
  info.writeBigUInt64BE(packed, 10);
  parts.push(info);
  for (let done = 0, n = 0; done < frames; n++) {
    const len = Math.min(BLOCK, frames - done);
    const head = [0xff, 0xf8, 0x7a, 0x08, ...coded(n), (len - 1) >> 8, (len - 1) & 0xff];
    head.push(crc8(head));
    const frame = [...head, 0, 0, 0];
    const crc = crc16(frame);
    parts.push(Buffer.from([...frame, crc >> 8, crc & 0xff]));
    done += len;
  }
  return Buffer.concat(parts);
}

const BOMB = silentFlac(672_000_000);

// ---- the CLI --------------------------------------------------------------------------------------

describe('hostile input files (CLI)', () => {
  test('transcribe: /dev/zero, a link to it, a FIFO and a 1 GiB sparse file are refused at once', async () => {
    for (const [audio, code, re] of [
      ['/dev/zero', 'BAD_INPUT', /is a device, not a regular file/],
      [zeroLink('zero.wav'), 'BAD_INPUT', /zero\.wav is a device/],
      [fifo('pipe.flac'), 'BAD_INPUT', /pipe\.flac is a FIFO/],
      [sparse('huge.wav', 3 * 2 ** 30), 'INPUT_TOO_LARGE', /huge\.wav is too large/],
    ]) {
      refused(await run(['transcribe', audio, '--json']), code, re);
    }
    refused(await run(['transcribe', at('nope.wav'), '--json']), 'NOT_FOUND');
  });

  test('transcribe --script: a FIFO is refused, not read as the script or waited on', async () => {
    fs.writeFileSync(at('take.wav'), Buffer.alloc(0));
    refused(await run(['transcribe', at('take.wav'), '--script', fifo('script.txt'), '--json']), 'BAD_INPUT', /script\.txt is a FIFO/);
  });

  test('--lexicon and HYPERFRAMES_LEXICON: a FIFO or /dev/zero is BAD_LEXICON, no hang', async () => {
    const pipe = fifo('lex.json');
    for (const [how, env] of [
      [['--lexicon', pipe], {}],
      [[], { HYPERFRAMES_LEXICON: '/dev/zero' }],
    ]) {
      refused(await run(['tts', 'Hello', '--provider', 'kokoro', ...how, '--json'], { env }), 'BAD_LEXICON', /not a regular file/);
    }
    refused(await run(['tts', 'Hello', '--provider', 'kokoro', '--lexicon', sparse('big.json'), '--json']), 'INPUT_TOO_LARGE');
  });

  test('media build: a FIFO or /dev/zero as the request, and a request over 64 MiB on stdin', async () => {
    refused(await run(['media', 'build', fifo('req.json'), '--out', at('out'), '--json']), 'BAD_INPUT', /req\.json is a FIFO/);
    refused(await run(['media', 'build', '/dev/zero', '--out', at('out'), '--json']), 'BAD_INPUT', /a device/);
    refused(await run(['media', 'build', sparse('req2.json'), '--out', at('out'), '--json']), 'INPUT_TOO_LARGE');
    const r = await run(['media', 'build', '-', '--out', at('out'), '--json'], { input: ' '.repeat(64 * 1024 * 1024 + 1) });
    refused(r, 'INPUT_TOO_LARGE', /standard input/);
    assert.equal(fs.existsSync(at('out')), false);
  });

  test('media build: Windows device names are refused as line ids, in any case and with an extension', async () => {
    for (const id of ['con', 'NUL', 'aux', 'Com1', 'lpt1.wav']) {
      fs.writeFileSync(at('req.json'), JSON.stringify({ lines: [{ id, text: 'Hello.' }] }));
      const j = refused(await run(['media', 'build', at('req.json'), '--out', at('out'), '--json']), 'BAD_REQUEST');
      assert.match(j.error, /lines\[0\]\.id: ".*" cannot name a file: Windows keeps that name for a device/);
    }
    assert.equal(media.connections(), 0);
  });

  test('media build: a recorded line whose audio links to /dev/zero or is a FIFO fails that line at once', async () => {
    const req = {
      lines: [
        { id: 'zero', text: 'Recorded words.', audio: zeroLink('take.wav') },
        { id: 'pipe', text: 'Recorded words.', audio: fifo('take2.flac') },
      ],
    };
    fs.writeFileSync(at('req.json'), JSON.stringify(req));
    const r = await run(['media', 'build', at('req.json'), '--out', at('out'), '--no-music', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const m = parseJson(r.stdout);
    const failed = Object.fromEntries(m.failed.map((f) => [f.id, f.code]));
    assert.deepEqual(failed, { zero: 'BAD_INPUT', pipe: 'BAD_INPUT' }, r.stdout);
  });

  test('describe: a 1 GiB sparse image and a FIFO are per-image errors, nothing read or sent', async () => {
    const r = await run(['describe', sparse('huge.png'), fifo('pipe.png'), '--json']);
    const rows = parseJson(r.stdout).images;
    assert.equal(rows[0].code, 'INPUT_TOO_LARGE', r.stdout);
    assert.match(rows[0].error, /huge\.png is too large \(1024 MiB\): at most 4 MiB is read/);
    assert.equal(rows[1].code, 'BAD_INPUT', r.stdout);
    assert.equal(media.connections(), 0);
  });

  test('SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and SSL_CERT_DIR at a FIFO or /dev/zero: a warning, and HTTPS still works', async () => {
    const dir = at('cas');
    fs.mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'ca.pem')]);
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.pem'));
    const env = { SSL_CERT_FILE: fifo('ca.pem'), NODE_EXTRA_CA_CERTS: '/dev/zero', SSL_CERT_DIR: dir };
    const r = await run(['tts', 'Hello there.', '--provider', 'heygen', '-o', at('out.wav'), '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /SSL_CERT_FILE=.*ca\.pem: cannot read it \(.*is a FIFO, not a regular file\)/);
    assert.match(r.stderr, /NODE_EXTRA_CA_CERTS=\/dev\/zero: cannot read it \(.*is a device/);
    // The folder's FIFO and link to a device are skipped, as OpenSSL does: it holds no certificate.
    assert.match(r.stderr, /SSL_CERT_DIR=.*cas: no PEM certificate in it/);
    assert.doesNotMatch(r.stderr, /SSL_CERT_DIR=.*(FIFO|device|cannot)/);
  });

  test('a 160 KB FLAC of 3.9 hours of silence from HeyGen is refused as a speech clip and falls through', async () => {
    assert.ok(BOMB.length < 200_000, `${BOMB.length} bytes`);
    media.cdn.files['bomb.flac'] = { body: BOMB, type: 'audio/flac' };
    media.heygen.speechAudio = 'bomb.flac';
    const only = await run(['tts', 'Hello there.', '--provider', 'heygen', '-o', at('a.wav'), '--json'], { keys: { heygen: true } });
    refused(only, 'AUDIO_TOO_LONG', /longer than a speech clip can need/);
    assert.equal(fs.existsSync(at('a.wav')), false);
    const r = await run(['tts', 'Hello there.', '-o', at('b.wav'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = parseJson(r.stdout);
    assert.equal(j.provider, 'elevenlabs', r.stdout);
    assert.ok(j.anomalies.some((a) => /^heygen: .*longer than a speech clip/.test(a)), r.stdout);
    assert.ok(Math.abs(j.durationSeconds - MP3_SECONDS) < 0.05, r.stdout);
  });

  test('the same FLAC as ElevenLabs base64 audio is refused as a speech clip', async () => {
    media.eleven.speechAudio = BOMB;
    const r = await run(['tts', 'Hello there.', '--provider', 'elevenlabs', '-o', at('a.wav'), '--json'], { keys: { heygen: false, eleven: true } });
    refused(r, 'AUDIO_TOO_LONG', /longer than a speech clip can need/);
    assert.equal(fs.existsSync(at('a.wav')), false);
  });
});

// ---- the JS API -----------------------------------------------------------------------------------

describe('hostile input files (JS API)', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true, eleven: true, gemini: true });

  test('transcribe(): /dev/zero, a FIFO and a link to /dev/zero reject with BAD_INPUT', async () => {
    for (const audio of ['/dev/zero', fifo('pipe.wav'), zeroLink('zero.wav')]) {
      await assert.rejects(api.transcribe(audio), (e) => e.code === 'BAD_INPUT' && /not a regular file/.test(e.message));
    }
  });

  test('buildMedia(): a FIFO as the request rejects with BAD_INPUT, "-" is a file name, not stdin', async () => {
    await assert.rejects(api.buildMedia(fifo('req.json'), { out: at('out') }), (e) => e.code === 'BAD_INPUT');
    await assert.rejects(api.buildMedia('-', { out: at('out') }), (e) => e.code === 'IO_ERROR' && /request \.\/-/.test(e.message));
    await assert.rejects(
      api.buildMedia({ lines: [{ id: 'NUL', text: 'x' }] }, { out: at('out') }),
      (e) => e.code === 'BAD_REQUEST' && /Windows/.test(e.message),
    );
  });

  test('tts() with a FIFO as the lexicon rejects with BAD_LEXICON', async () => {
    await assert.rejects(api.tts('Hi', { provider: 'kokoro', lexicon: fifo('lex.json') }), (e) => e.code === 'BAD_LEXICON');
  });

  test('describe(): a 1 GiB sparse image is refused before it is read', async () => {
    const r = await api.describe([sparse('huge.png')]);
    assert.equal(r.images[0].code, 'INPUT_TOO_LARGE');
    assert.equal(media.connections(), 0);
  });
});
