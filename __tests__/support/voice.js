'use strict';
// Helpers for the local-voice and model-manager tests: a WAV reader, caption parsers, word
// normalisation, a 127.0.0.1 mirror server that records every request, a CLI runner that keeps
// stdout as bytes (for `--stream`) and notes when output arrived, and the real-model switch.

const { spawn } = require('node:child_process');
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { BIN, buildEnv } = require('./cli.js');

const MODEL_FILE = 'kokoro/kokoro-v1.0.int8.onnx';
const VOICES_JA = 'kokoro/voices_ja.npz';
const MODEL_SIZE = 92_361_271;
const INSTALL_HINT = 'hyperframes models install kokoro';
const SKIP_REAL = 'set HYPERFRAMES_TEST_MODELS_DIR to a models dir holding kokoro/kokoro-v1.0.int8.onnx and kokoro/voices_ja.npz';
/** The voices of voices_ja.npz. */
const JA_VOICES = ['jf_alpha', 'jf_gongitsune', 'jf_nezumi', 'jf_tebukuro', 'jm_kumo'];

/**
 * The real models dir for the model-backed tier, or null when HYPERFRAMES_TEST_MODELS_DIR is not
 * set. A dir that is set but lacks the files is still returned, so the tier fails loudly instead of
 * skipping (see `missingRealFiles`).
 */
function realModelsDir() {
  const dir = process.env.HYPERFRAMES_TEST_MODELS_DIR;
  return dir ? path.resolve(dir) : null;
}

/** The real files the tier needs that `dir` lacks. */
function missingRealFiles(dir) {
  return [MODEL_FILE, VOICES_JA].filter((f) => !fs.existsSync(path.join(dir, ...f.split('/'))));
}

/** Every file under `dir`, as `/`-separated paths relative to it (sorted); [] when it is missing. */
function listFiles(dir) {
  const out = [];
  const walk = (d, rel) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

// ---- WAV ----------------------------------------------------------------------------------------

/**
 * Parses a RIFF/WAVE buffer: `{audioFormat (1 PCM, 3 float), channels, sampleRate, bitsPerSample,
 * blockAlign, data (Buffer), frames, samples (Float32Array in [-1, 1])}`.
 */
function parseWav(buf) {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`not a RIFF/WAVE buffer (starts with ${JSON.stringify(buf.toString('latin1', 0, 12))})`);
  }
  const riffSize = buf.readUInt32LE(4);
  let fmt = null;
  let data = null;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, off + 8 + size);
    if (id === 'fmt ') {
      let audioFormat = body.readUInt16LE(0);
      if (audioFormat === 0xfffe && body.length >= 26) audioFormat = body.readUInt16LE(24); // extensible: sub-format GUID
      fmt = {
        audioFormat,
        channels: body.readUInt16LE(2),
        sampleRate: body.readUInt32LE(4),
        byteRate: body.readUInt32LE(8),
        blockAlign: body.readUInt16LE(12),
        bitsPerSample: body.readUInt16LE(14),
      };
    } else if (id === 'data') {
      if (body.length !== size) throw new Error(`data chunk says ${size} bytes, the file holds ${body.length}`);
      data = body;
    }
    off += 8 + size + (size % 2);
  }
  if (!fmt) throw new Error('no fmt chunk');
  if (!data) throw new Error('no data chunk');
  const frames = data.length / fmt.blockAlign;
  const n = data.length / (fmt.bitsPerSample / 8);
  const samples = new Float32Array(n);
  if (fmt.audioFormat === 1 && fmt.bitsPerSample === 16) {
    for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(i * 2) / 32767;
  } else if (fmt.audioFormat === 3 && fmt.bitsPerSample === 32) {
    for (let i = 0; i < n; i++) samples[i] = data.readFloatLE(i * 4);
  }
  return { ...fmt, riffSize, data, frames, samples };
}

/** Peak and RMS of float samples. */
function levels(samples) {
  let peak = 0;
  let sum = 0;
  for (const s of samples) {
    const a = Math.abs(s);
    if (a > peak) peak = a;
    sum += s * s;
  }
  return { peak, rms: samples.length ? Math.sqrt(sum / samples.length) : 0 };
}

/** Raw s16le PCM as Int16 values. */
function int16s(buf) {
  const out = new Int16Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

// ---- text and captions --------------------------------------------------------------------------

/** Words of a text as compared: lower case, letters and digits only (apostrophes dropped). */
function normWords(text) {
  return String(text)
    .toLowerCase()
    .replace(/['’]/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

const SRT_TIME = /^(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})$/;
const VTT_TIME = /^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;

function secs(m, i) {
  return Number(m[i]) * 3600 + Number(m[i + 1]) * 60 + Number(m[i + 2]) + Number(m[i + 3]) / 1000;
}

/** Parses SRT strictly (numbered cues from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, blank line). */
function parseSrt(text) {
  const blocks = text.replace(/\r\n/g, '\n').trim().split(/\n\n+/);
  return blocks.map((block, i) => {
    const lines = block.split('\n');
    if (lines[0] !== String(i + 1)) throw new Error(`cue ${i + 1} is numbered ${JSON.stringify(lines[0])}`);
    const m = SRT_TIME.exec(lines[1] || '');
    if (!m) throw new Error(`cue ${i + 1} has no SRT timing line: ${JSON.stringify(lines[1])}`);
    if (lines.length < 3) throw new Error(`cue ${i + 1} has no text`);
    return { start: secs(m, 1), end: secs(m, 5), text: lines.slice(2).join('\n') };
  });
}

/** Parses WebVTT strictly (`WEBVTT` header, then `HH:MM:SS.mmm --> HH:MM:SS.mmm` cues). */
function parseVtt(text) {
  const t = text.replace(/\r\n/g, '\n');
  if (!/^WEBVTT(\n| )/.test(t)) throw new Error(`no WEBVTT header: ${JSON.stringify(t.slice(0, 20))}`);
  const blocks = t.trim().split(/\n\n+/).slice(1);
  return blocks.map((block, i) => {
    let lines = block.split('\n');
    if (!VTT_TIME.test(lines[0]) && VTT_TIME.test(lines[1] || '')) lines = lines.slice(1); // optional cue id
    const m = VTT_TIME.exec(lines[0]);
    if (!m) throw new Error(`cue ${i + 1} has no VTT timing line: ${JSON.stringify(lines[0])}`);
    if (lines.length < 2) throw new Error(`cue ${i + 1} has no text`);
    return { start: secs(m, 1), end: secs(m, 5), text: lines.slice(1).join('\n') };
  });
}

// ---- a mirror on 127.0.0.1 ----------------------------------------------------------------------

/**
 * An HTTP server on 127.0.0.1 that records every request (`requests`: `{method, url, range}`) and
 * every connection (`connections`), answering with `handler(req, res)` (default: 404).
 */
async function startMirror(handler) {
  const requests = [];
  let connections = 0;
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, range: req.headers.range || null });
    if (handler) handler(req, res);
    else {
      res.writeHead(404, { 'content-length': 9 });
      res.end('not found');
    }
  });
  server.on('connection', (s) => {
    connections += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends `size` bytes of `fill` with an exact Content-Length, streaming (never all in memory). */
function sendBytes(res, size, fill = 0) {
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  const block = Buffer.alloc(1 << 20, fill);
  let left = size;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, block.length);
      left -= n;
      if (!res.write(n === block.length ? block : block.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

// ---- running the CLI with binary stdout ---------------------------------------------------------

/**
 * Runs `hyperframes <args>` like support/cli.js `runCli` (environment built from scratch), but keeps
 * stdout as a Buffer and records when things happened: `{code, stdout, stderr, firstStdoutAt,
 * stdoutEvents, exitedAt, closedAt, startedAt, exitedBeforeFirstStdout}` (times from
 * `performance.now()`).
 */
function runRaw(args, { home, env, input, cwd, timeoutMs = 300_000 } = {}) {
  const fullEnv = buildEnv({ home, env });
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: fullEnv,
      cwd: cwd || (home ? home.dir : undefined),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out = [];
    let stderr = '';
    let firstStdoutAt = null;
    let exitedAt = null;
    let exitedBeforeFirstStdout = null;
    let stdoutEvents = 0;
    child.stdout.on('data', (d) => {
      if (firstStdoutAt === null) {
        firstStdoutAt = performance.now();
        exitedBeforeFirstStdout = child.exitCode !== null || child.signalCode !== null || exitedAt !== null;
      }
      stdoutEvents += 1;
      out.push(d);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hyperframes ${args.join(' ')} did not finish in ${timeoutMs} ms\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('exit', () => {
      exitedAt = performance.now();
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code === null ? `signal ${signal}` : code,
        stdout: Buffer.concat(out),
        stderr,
        startedAt,
        firstStdoutAt,
        stdoutEvents,
        exitedAt,
        closedAt: performance.now(),
        exitedBeforeFirstStdout,
      });
    });
    if (input !== undefined) child.stdin.write(input);
    child.stdin.end();
  });
}

/** JSON lines of a text (every non-empty line must parse). */
function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`not a JSON line (${e.message}): ${l}`);
      }
    });
}

module.exports = {
  MODEL_FILE,
  VOICES_JA,
  MODEL_SIZE,
  INSTALL_HINT,
  SKIP_REAL,
  JA_VOICES,
  realModelsDir,
  missingRealFiles,
  listFiles,
  parseWav,
  levels,
  int16s,
  normWords,
  parseSrt,
  parseVtt,
  startMirror,
  sendBytes,
  runRaw,
  jsonLines,
};
