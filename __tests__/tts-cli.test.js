'use strict';
// `hyperframes tts` without a real model: input errors (caught before any model work), the model
// missing (offline / --no-download, no network touched), auto-install on first use from a
// 127.0.0.1 mirror serving fake files (which must fail verification and leave nothing behind),
// and `tts --list`.

const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const {
  MODEL_FILE,
  MODEL_SIZE,
  INSTALL_HINT,
  listFiles,
  startMirror,
  sendBytes,
  jsonLines,
} = require('./support/voice.js');

const LANGS = ['en-us', 'en-gb', 'es', 'fr-fr', 'hi', 'it', 'pt-br', 'ja', 'zh'];
const PREFIX_LANG = { a: 'en-us', b: 'en-gb', e: 'es', f: 'fr-fr', h: 'hi', i: 'it', j: 'ja', p: 'pt-br', z: 'zh' };

let home;
beforeEach(() => {
  home = makeHome();
});
afterEach(() => {
  home.cleanup();
});

const run = (args, opts = {}) => runCli(args, { home, ...opts });

/**
 * A failed `--json` run: exit 1, stdout is exactly one `{ok:false, error, code, hint, provider,
 * anomalies}` object (the same shape whether the failure was found before or after a provider was asked).
 */
function jsonFailure(r, code) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const body = parseJson(r.stdout);
  assert.deepEqual(Object.keys(body).sort(), ['anomalies', 'code', 'error', 'hint', 'ok', 'provider'], r.stdout);
  assert.ok(Array.isArray(body.anomalies), r.stdout);
  assert.equal(body.ok, false);
  assert.equal(body.code, code, r.stdout);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error.trim().length > 5, `a clear message: ${r.stdout}`);
  assert.ok(body.hint === null || typeof body.hint === 'string', r.stdout);
  return body;
}

/** Nothing at all was written under HOME (the cwd of the run): no speech.wav, words, captions, models. */
function nothingWritten(extra = []) {
  const files = listFiles(home.dir).filter((f) => !extra.includes(f));
  assert.deepEqual(files, [], `files written: ${files.join(', ')}`);
}

describe('tts: input errors (exit 1, clear message, JSON with --json, no output file)', () => {
  const cases = [
    { name: 'no input', args: [], code: 'EMPTY_TEXT', message: /provide text/i },
    { name: 'blank text', args: ['   \t  '], code: 'EMPTY_TEXT', message: /no text/i },
    { name: 'empty .txt file', file: ['empty.txt', ' \n\n '], args: ['empty.txt'], code: 'EMPTY_TEXT', message: /empty/i },
    {
      name: 'empty --text-file',
      file: ['blank.txt', ''],
      args: ['--text-file', 'blank.txt'],
      code: 'EMPTY_TEXT',
      message: /empty/i,
    },
    { name: '--speed 0', args: ['Hello.', '--speed', '0'], code: 'BAD_SPEED', message: /speed/i },
    { name: '--speed -1', args: ['Hello.', '--speed', '-1'], code: 'BAD_SPEED', message: /speed/i },
    { name: '--speed=-1', args: ['Hello.', '--speed=-1'], code: 'BAD_SPEED', message: /speed/i },
    { name: '--speed 3.5', args: ['Hello.', '--speed', '3.5'], code: 'BAD_SPEED', message: /speed/i },
    { name: '--speed nan', args: ['Hello.', '-s', 'nan'], code: 'BAD_SPEED', message: /speed/i },
    { name: '--lang xx', args: ['Hello.', '--lang', 'xx'], code: 'BAD_LANG', message: /xx/ },
    {
      name: "malformed blend --voice 'af_sky.4+'",
      args: ['Hello.', '--voice', 'af_sky.4+'],
      code: 'BAD_BLEND',
      message: /af_sky\.4\+/,
    },
    {
      name: '--captions with a bad extension',
      args: ['Hello.', '--captions', 'out.txt'],
      code: 'BAD_OUTPUT',
      message: /\.srt or \.vtt/,
    },
    { name: 'unknown --model', args: ['Hello.', '--model', 'nope'], code: 'UNKNOWN_MODEL', message: /nope/ },
    {
      name: '--model naming a model that is not a voice',
      args: ['Hello.', '--model', 'whisper-tiny.en'],
      code: 'UNKNOWN_MODEL',
      message: /whisper-tiny\.en/,
    },
    { name: 'empty .TXT file (extension in capitals)', file: ['EMPTY.TXT', '  '], args: ['EMPTY.TXT'], code: 'EMPTY_TEXT', message: /empty/i },
    { name: 'blank stdin (-)', args: ['-'], input: '  \n ', code: 'EMPTY_TEXT', message: /no text/i },
  ];

  for (const c of cases) {
    test(`${c.name} → ${c.code}`, async () => {
      const keep = [];
      if (c.file) {
        fs.writeFileSync(path.join(home.dir, c.file[0]), c.file[1]);
        keep.push(c.file[0]);
      }
      const outputs = ['-o', 'out/speech.wav', '--words', 'out/words.json'];
      const args = ['tts', ...c.args, ...outputs];

      const plain = await run(args, { input: c.input });
      assert.equal(plain.code, 1, `exit code\n${plain.output}`);
      assert.equal(plain.stdout, '', 'errors go to stderr');
      assert.match(plain.stderr, c.message);
      nothingWritten(keep);

      const json = await run([...args, '--json'], { input: c.input });
      const body = jsonFailure(json, c.code);
      assert.match(body.error, c.message);
      assert.equal(json.stderr, '', 'nothing on stderr with --json');
      nothingWritten(keep);
    });
  }

  test('EMPTY_TEXT without input hints at an example command', async () => {
    const body = jsonFailure(await run(['tts', '--json']), 'EMPTY_TEXT');
    assert.match(body.hint, /hyperframes tts /);
  });

  test('BAD_SPEED explains the range', async () => {
    const body = jsonFailure(await run(['tts', 'Hello.', '--speed', '3.5', '--json']), 'BAD_SPEED');
    assert.match(body.error, /3\.5/);
    assert.match(body.error, /greater than 0/);
    assert.match(body.error, /at most 3/);
  });

  test('--text-file that does not exist → BAD_INPUT', async () => {
    const body = jsonFailure(await run(['tts', '--text-file', 'missing.txt', '--json']), 'BAD_INPUT');
    assert.match(body.error, /missing\.txt/);
    nothingWritten();
  });

  test('--speed abc: exit 1 with a clear message naming the flag and the value', async () => {
    const r = await run(['tts', 'Hello.', '--speed', 'abc']);
    assert.equal(r.code, 1, r.output);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--speed/);
    assert.match(r.stderr, /abc/);
    nothingWritten();
  });

  test(
    '--speed abc --json: a JSON {ok:false, error, code, hint} on stdout',
    async () => {
      const r = await run(['tts', 'Hello.', '--speed', 'abc', '--json']);
      const body = jsonFailure(r, 'BAD_SPEED');
      assert.match(body.error, /abc/);
      nothingWritten();
    },
  );
});

describe('tts: valid edge inputs pass validation (and reach the model check)', () => {
  const cases = [
    ['--lang in capitals', ['Hello.', '--lang', 'EN-US']],
    ['--speed 3 (the maximum)', ['Hello.', '--speed', '3']],
    ['--speed 0.01', ['Hello.', '--speed', '0.01']],
    ['--captions X.VTT (extension in capitals)', ['Hello.', '--captions', 'X.VTT']],
    ['a weighted blend', ['Hello.', '--voice', 'af_sky.4+af_nicole.6']],
    ['a blend with parenthesised weights', ['Hello.', '--voice', 'af_sky(2)+af_nicole(1)']],
    ['text from stdin (-)', ['-'], 'Hello from stdin.'],
    ['a .txt file', ['hello.txt'], undefined, ['hello.txt', 'Hello from a file.\n']],
    ['--text-file', ['--text-file', 'hello.txt'], undefined, ['hello.txt', 'Hello from a file.\n']],
  ];
  for (const [name, args, input, fileSpec] of cases) {
    test(`${name} → MODEL_MISSING (not an input error)`, async () => {
      if (fileSpec) fs.writeFileSync(path.join(home.dir, fileSpec[0]), fileSpec[1]);
      const r = await run(['tts', ...args, '--no-download', '--json'], { input });
      const body = jsonFailure(r, 'MODEL_MISSING');
      assert.ok(body.hint.includes(INSTALL_HINT), body.hint);
    });
  }

  test('--model kokoro-fp32 missing → the hint installs kokoro-fp32', async () => {
    const body = jsonFailure(await run(['tts', 'Hello.', '--model', 'kokoro-fp32', '--no-download', '--json']), 'MODEL_MISSING');
    assert.match(body.hint, /hyperframes models install kokoro-fp32/);
    assert.match(body.error, /fp32/);
  });
});

describe('tts: model missing', () => {
  let mirror;
  beforeEach(async () => {
    mirror = await startMirror();
  });
  afterEach(async () => {
    await mirror.stop();
  });

  // Any download would go to the mirror, or through the "proxy" (the same server) for the official URL.
  const netEnv = () => ({
    HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m`,
    HTTP_PROXY: mirror.url,
    HTTPS_PROXY: mirror.url,
    http_proxy: mirror.url,
    https_proxy: mirror.url,
  });

  function noNetwork() {
    assert.deepEqual(mirror.requests, [], 'no request reached the mirror/proxy');
    assert.equal(mirror.connections, 0, 'no connection reached the mirror/proxy');
  }

  function missingFailure(r) {
    const body = jsonFailure(r, 'MODEL_MISSING');
    assert.ok(body.hint.includes(INSTALL_HINT), `hint has \`${INSTALL_HINT}\`: ${body.hint}`);
    assert.ok(body.error.includes(home.modelsDir), `names the models dir: ${body.error}`);
    return body;
  }

  test('--no-download → MODEL_MISSING with the install command; no network', async () => {
    const r = await run(['tts', 'Hello there.', '--no-download', '--json'], { env: netEnv() });
    missingFailure(r);
    assert.equal(r.stderr, '', 'no progress output');
    noNetwork();
    nothingWritten();
  });

  test('--no-download without --json: message and hint on stderr, nothing on stdout', async () => {
    const r = await run(['tts', 'Hello there.', '--no-download'], { env: netEnv() });
    assert.equal(r.code, 1, r.output);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /not installed/);
    assert.ok(r.stderr.includes(INSTALL_HINT), r.stderr);
    noNetwork();
    nothingWritten();
  });

  for (const value of ['1', 'true']) {
    test(`HYPERFRAMES_OFFLINE=${value} → MODEL_MISSING at once; no network`, async () => {
      const r = await run(['tts', 'Hello there.', '--json'], { env: { ...netEnv(), HYPERFRAMES_OFFLINE: value } });
      missingFailure(r);
      assert.equal(r.stderr, '');
      noNetwork();
      nothingWritten();
    });
  }

  test('HYPERFRAMES_OFFLINE=1 without a mirror (official URLs through a proxy) → no connection', async () => {
    const env = { ...netEnv(), HYPERFRAMES_OFFLINE: '1', HYPERFRAMES_MODEL_MIRROR: undefined };
    const r = await run(['tts', 'Hello there.', '--json'], { env });
    missingFailure(r);
    noNetwork();
  });

  test('--stream with the model missing writes no audio bytes to stdout', async () => {
    const r = await run(['tts', 'Hello there.', '--stream', '--no-download'], { env: netEnv() });
    assert.equal(r.code, 1, r.output);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(INSTALL_HINT), r.stderr);
    noNetwork();
  });
});

describe('tts: auto-install on first use from HYPERFRAMES_MODEL_MIRROR (fake files)', () => {
  let mirror;
  afterEach(async () => {
    if (mirror) await mirror.stop();
    mirror = null;
  });

  /** Nothing installed: no model or voices at their final paths, no `.partial`, no output. */
  function nothingInstalled() {
    const files = listFiles(home.modelsDir);
    assert.deepEqual(files, [], `left in the models dir: ${files.join(', ')}`);
    assert.ok(!fs.existsSync(path.join(home.dir, 'speech.wav')));
    assert.ok(!fs.existsSync(path.join(home.dir, 'out.wav')));
  }

  /** A mirror serving a model file of the right size but wrong bytes, and 404 for the voices. */
  async function wrongBytesMirror() {
    return startMirror((req, res) => {
      if (req.url === `/m/${MODEL_FILE}`) sendBytes(res, MODEL_SIZE, 0x5a);
      else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
  }

  test('404 at the mirror → DOWNLOAD_FAILED naming the file; nothing left behind', async () => {
    mirror = await startMirror();
    const r = await run(['tts', 'Hello there.', '-o', 'out.wav', '--json'], {
      env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m/` },
    });
    const body = jsonFailure(r, 'DOWNLOAD_FAILED');
    assert.ok(body.error.includes(MODEL_FILE), body.error);
    assert.match(body.error, /404/);
    assert.match(body.hint, /--from/);
    assert.ok(
      mirror.requests.some((q) => q.method === 'GET' && q.url === `/m/${MODEL_FILE}`),
      `asked the mirror for <mirror>/${MODEL_FILE}: ${JSON.stringify(mirror.requests)}`,
    );
    nothingInstalled();
  });

  test('wrong bytes (right size) → CHECKSUM_MISMATCH; no model file, no .partial; JSON progress on stderr', async () => {
    mirror = await wrongBytesMirror();
    const r = await run(['tts', 'Hello there.', '-o', 'out.wav', '--json'], {
      env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m` },
    });
    const body = jsonFailure(r, 'CHECKSUM_MISMATCH');
    assert.ok(body.error.includes(MODEL_FILE), body.error);
    assert.match(body.error, /sha256/);
    assert.ok(body.error.includes('6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb'), body.error);
    assert.equal(mirror.requests.filter((q) => q.url === `/m/${MODEL_FILE}`).length, 1, 'one download, no retry');

    // Progress: JSON lines on stderr only (stdout holds just the result).
    const events = jsonLines(r.stderr);
    const forModel = events.filter((e) => e.file === MODEL_FILE);
    assert.deepEqual(forModel[0], { event: 'start', file: MODEL_FILE, total: MODEL_SIZE, resumed_from: 0 });
    const bytes = forModel.filter((e) => e.event === 'bytes');
    assert.ok(bytes.length >= 1, r.stderr.slice(0, 2000));
    for (let i = 1; i < bytes.length; i++) assert.ok(bytes[i].done > bytes[i - 1].done, 'bytes grow');
    assert.equal(bytes[bytes.length - 1].done, MODEL_SIZE);
    assert.ok(bytes.every((e) => e.total === MODEL_SIZE));
    assert.ok(forModel.some((e) => e.event === 'verifying'));
    assert.ok(!forModel.some((e) => e.event === 'done'), 'never reported done');
    for (const e of events) assert.ok(['start', 'bytes', 'verifying', 'done', 'skipped'].includes(e.event), JSON.stringify(e));

    nothingInstalled();
  });

  test('wrong bytes without --json: progress lines on stderr, stdout empty, error on stderr', async () => {
    mirror = await wrongBytesMirror();
    const r = await run(['tts', 'Hello there.', '-o', 'out.wav'], { env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m` } });
    assert.equal(r.code, 1, r.output);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`Downloading ${MODEL_FILE.replace(/\./g, '\\.')} \\(92\\.4 MB\\)`));
    assert.match(r.stderr, /100% \(92\.4 MB \/ 92\.4 MB\)/);
    assert.match(r.stderr, /verifying .*sha256/);
    assert.match(r.stderr, /sha256 mismatch/);
    assert.doesNotMatch(r.stderr, /\r/, 'no progress bar when stderr is not a terminal');
    nothingInstalled();
  });

  test('on a terminal: a progress bar, then the checksum error', async () => {
    mirror = await wrongBytesMirror();
    const r = await run(['tts', 'Hello there.', '-o', 'out.wav'], {
      pty: true,
      // A terminal says what it is in TERM; without it indicatif takes the terminal for a dumb one.
      env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m`, TERM: 'xterm-256color' },
    });
    assert.equal(r.code, 1, r.output);
    // The bar ends at 100% (indicatif: bytes, rate, ETA) and the next line starts on its own.
    assert.match(r.stdout, /\[#+\]\s+100%\s+92\.36 MB \/ 92\.36 MB[^\r\n]*\r?\n {2}verifying /, r.stdout.slice(-2000));
    assert.match(r.stdout, /sha256 mismatch/);
    nothingInstalled();
  });

  test('a small fake file (Content-Length disagrees with the catalog) → CHECKSUM_MISMATCH, nothing left', async () => {
    mirror = await startMirror((req, res) => {
      const body = Buffer.from('this is not an ONNX model');
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const r = await run(['tts', 'Hello there.', '--json'], { env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m` } });
    const body = jsonFailure(r, 'CHECKSUM_MISMATCH');
    assert.ok(body.error.includes(MODEL_FILE), body.error);
    assert.match(body.error, /92361271/);
    nothingInstalled();
  });

  test('--no-download wins over a mirror: nothing is fetched', async () => {
    mirror = await wrongBytesMirror();
    const r = await run(['tts', 'Hello there.', '--json', '--no-download'], {
      env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m` },
    });
    jsonFailure(r, 'MODEL_MISSING');
    assert.equal(mirror.connections, 0);
    nothingInstalled();
  });
});

describe('tts: installed files that are not a model', () => {
  test('right-size fake model and voice pack → a clean VOICE/MODEL error with a hint, no output file', async () => {
    for (const [rel, size] of [
      [MODEL_FILE, MODEL_SIZE],
      ['kokoro/voices_ja.npz', 2_612_478],
    ]) {
      const p = path.join(home.modelsDir, ...rel.split('/'));
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, '');
      fs.truncateSync(p, size);
    }
    const r = await run(['tts', 'Hello there.', '-o', 'out.wav', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    assert.match(body.code, /^(VOICE_FORMAT|MODEL_CORRUPT)$/, r.stdout);
    assert.ok(body.hint && body.hint.includes(INSTALL_HINT), r.stdout);
    assert.ok(!fs.existsSync(path.join(home.dir, 'out.wav')));
  });
});

describe('tts --list', () => {
  test('54 voices with language and gender, none installed in an empty models dir', async () => {
    const r = await run(['tts', '--list']);
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^ID\s+Name\s+Lang\s+Gender\s+installed$/);
    const rows = lines.slice(1).filter((l) => /^[a-z]{2}_\w+\s/.test(l));
    assert.equal(rows.length, 54, r.stdout);
    for (const row of rows) {
      const [id, , lang, gender, mark] = row.trim().split(/\s+/);
      assert.equal(lang, PREFIX_LANG[id[0]], row);
      assert.equal(gender, id[1] === 'f' ? 'female' : 'male', row);
      assert.equal(mark, undefined, `not marked installed: ${row}`);
    }
    assert.ok(r.stdout.includes(INSTALL_HINT), 'says how to install voices');
    assert.ok(!fs.existsSync(home.modelsDir), 'listing creates nothing');
  });

  test('--list --json: {ok, provider: kokoro, voices: [{id, name, language, gender, installed}]}, as `voices --json`', async () => {
    const r = await run(['tts', '--list', '--json']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stderr, '');
    const body = parseJson(r.stdout);
    assert.deepEqual(Object.keys(body).sort(), ['ok', 'provider', 'voices']);
    assert.equal(body.provider, 'kokoro');
    const rows = body.voices;
    assert.equal(rows.length, 54);
    assert.equal(new Set(rows.map((v) => v.id)).size, 54, 'ids are unique');
    for (const v of rows) {
      assert.deepEqual(Object.keys(v).sort(), ['gender', 'id', 'installed', 'language', 'name']);
      assert.match(v.id, /^[abefhijpz][fm]_[a-z]+$/);
      assert.ok(LANGS.includes(v.language), v.language);
      assert.equal(v.language, PREFIX_LANG[v.id[0]], v.id);
      assert.equal(v.gender, v.id[1] === 'f' ? 'female' : 'male', v.id);
      assert.equal(typeof v.name, 'string');
      assert.ok(v.name.length > 0);
      assert.equal(v.installed, false);
    }
    const heart = rows.find((v) => v.id === 'af_heart');
    assert.deepEqual(heart, { id: 'af_heart', name: 'Heart', language: 'en-us', gender: 'female', installed: false });
    assert.deepEqual(parseJson((await run(['voices', '--provider', 'kokoro', '--json'])).stdout), body);
    for (const id of ['jf_alpha', 'jm_kumo', 'zf_xiaobei', 'ff_siwis', 'bm_george', 'pm_santa', 'hf_alpha', 'im_nicola', 'em_alex']) {
      assert.ok(rows.some((v) => v.id === id), id);
    }
    for (const lang of LANGS) assert.ok(rows.some((v) => v.language === lang), `a voice for ${lang}`);
  });
});
