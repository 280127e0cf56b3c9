'use strict';
// The rough edges a new user hits (issue #21 items 5–8) and the output/input hardening of #22
// (two outputs on one path, a BOM in a text file, bounded text and words files), through the
// built CLI against the contract servers on 127.0.0.1.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { runCli } = require('./support/cli.js');
const { okJson, failJson } = require('./support/setup.js');
const { useMedia } = require('./support/media-servers.js');

const RACHEL = '21m00Tcm4TlvDq8ikWAM';
const EL_TTS = `POST /v1/text-to-speech/${RACHEL}/with-timestamps`;

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const run = (args, { keys = { heygen: false, eleven: true }, ...opts } = {}) =>
  runCli(args, { home, env: media.env(keys), ...opts });
const file = (name) => path.join(home.dir, name);
const write = (name, content) => fs.writeFileSync(file(name), content);
const spoken = () => media.eleven.hits(EL_TTS).map((r) => r.body.text);

describe('tts: the text to speak (#21 item 5, #22 items 1 and 16)', () => {
  test('a mistyped file name is refused with the close name, not spoken', async () => {
    write('script.txt', 'Hello there.');
    const j = failJson(await run(['tts', 'scrpt.txt', '-o', 'out.wav', '--json']), 'BAD_INPUT');
    assert.match(j.error, /scrpt\.txt.*did you mean script\.txt\?/);
    assert.match(j.hint, /--text-file/);
    assert.deepEqual(spoken(), [], 'nothing was spoken');
    assert.ok(!fs.existsSync(file('out.wav')));
  });

  test('a path-like argument with no such file is refused; words with a dot are spoken', async () => {
    failJson(await run(['tts', 'drafts/intro', '--json']), 'BAD_INPUT');
    okJson(await run(['tts', 'Hello.', '-o', 'out.wav', '--json']));
    assert.deepEqual(spoken(), ['Hello.']);
  });

  test('an existing .md file is read, and a BOM in --text-file is no part of the first word', async () => {
    write('notes.md', '\uFEFFHello there.\n');
    const j = okJson(await run(['tts', '--text-file', 'notes.md', '-o', 'out.wav', '--words', 'w.json', '--json']));
    assert.equal(j.words[0].text, 'Hello');
    okJson(await run(['tts', 'notes.md', '-o', 'out2.wav', '--json']));
    assert.deepEqual(spoken().map((t) => t.trim()), ['Hello there.', 'Hello there.']);
  });

  test('a device or FIFO as the text file is refused at once', async () => {
    failJson(await run(['tts', '--text-file', '/dev/zero', '--json']), 'BAD_INPUT');
    execFileSync('mkfifo', [file('pipe.txt')]);
    const j = failJson(await run(['tts', 'pipe.txt', '--json'], { timeoutMs: 20_000 }), 'BAD_INPUT');
    assert.match(j.error, /FIFO/);
    assert.deepEqual(spoken(), []);
  });
});

const WORDS = [
  { text: 'Hello', start: 0, end: 0.4 },
  { text: 'there.', start: 0.45, end: 0.9 },
];

describe('captions I/O (#21 item 6, #22 item 1)', () => {
  test('captions - reads the words from stdin', async () => {
    const r = await run(['captions', '-', '--to', 'vtt'], { input: JSON.stringify({ words: WORDS }) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^WEBVTT/);
    assert.match(r.stdout, /Hello there\./);
  });

  test('captions -o given twice writes each format by its extension', async () => {
    write('w.json', JSON.stringify(WORDS));
    const j = okJson(await run(['captions', 'w.json', '-o', 'c.srt', '-o', 'c.json', '--json']));
    assert.deepEqual(j.outputPaths, ['c.srt', 'c.json']);
    assert.match(fs.readFileSync(file('c.srt'), 'utf8'), /^1\n00:00:00,000 --> /);
    assert.equal(JSON.parse(fs.readFileSync(file('c.json'), 'utf8')).length, 2, 'Remotion: one caption a word');
  });

  test('a words file that is a device or FIFO is refused at once, a BOM is dropped', async () => {
    failJson(await run(['captions', '/dev/zero', '--json']), 'BAD_INPUT');
    execFileSync('mkfifo', [file('w.fifo')]);
    failJson(await run(['captions', 'w.fifo', '--json'], { timeoutMs: 20_000 }), 'BAD_INPUT');
    write('bom.json', `\uFEFF${JSON.stringify(WORDS)}`);
    okJson(await run(['captions', 'bom.json', '-o', 'c.srt', '--json']));
  });

  test('tts --captions given twice: SRT and Remotion JSON from one run', async () => {
    const j = okJson(await run(['tts', 'Hello there.', '-o', 'out.wav', '--captions', 'c.srt', '--captions', 'c.json', '--json']));
    assert.equal(j.captionsPath, 'c.srt');
    assert.deepEqual(j.captionsPaths, ['c.srt', 'c.json']);
    assert.match(fs.readFileSync(file('c.srt'), 'utf8'), /-->/);
    assert.ok(Array.isArray(JSON.parse(fs.readFileSync(file('c.json'), 'utf8'))));
    assert.equal(spoken().length, 1);
  });
});

describe('two outputs on one path are refused (#22 item 11)', () => {
  const cases = [
    ['-o X.wav --words X.wav', ['-o', 'x.wav', '--words', 'x.wav'], /--output and --words/],
    ['--words X --captions X', ['--words', 'x.srt', '--captions', 'x.srt'], /--words and --captions/],
    ['--captions twice on one file', ['--captions', 'c.srt', '--captions', './c.srt'], /--captions and --captions/],
    ['- twice', ['--words', '-', '--captions', '-'], /stdout/],
  ];
  for (const [name, args, re] of cases) {
    test(`tts ${name}`, async () => {
      const r = await run(['tts', 'Hello.', ...args, '--json']);
      // With stdout carrying data, the JSON report goes to stderr.
      const j = failJson(args.includes('-') ? { ...r, stdout: r.stderr } : r, 'USAGE');
      assert.match(j.error, re);
      assert.deepEqual(spoken(), [], 'refused before any provider was asked');
    });
  }

  test('a link to another output is the same file', async () => {
    fs.symlinkSync(file('out.wav'), file('link.srt'));
    const j = failJson(await run(['tts', 'Hello.', '-o', 'out.wav', '--captions', 'link.srt', '--json']), 'USAGE');
    assert.match(j.error, /--output and --captions/);
  });

  test('transcribe --words X --captions X and captions -o X -o X', async () => {
    write('a.wav', Buffer.alloc(100));
    const t = failJson(await run(['transcribe', 'a.wav', '--words', 'x.srt', '--captions', 'x.srt', '--json']), 'USAGE');
    assert.match(t.error, /--words and --captions/);
    write('w.json', JSON.stringify(WORDS));
    failJson(await run(['captions', 'w.json', '-o', 'c.srt', '-o', 'c.srt', '--json']), 'USAGE');
    assert.ok(!fs.existsSync(file('c.srt')));
  });
});

describe('sound effects say how they matched (#21 item 7)', () => {
  const bundled = (query, extra = []) => run(['sfx', query, '--provider', 'bundled', '-o', 'x.wav', ...extra]);

  test('"soft click" is click-soft, a full match', async () => {
    const j = okJson(await bundled('soft click', ['--json']));
    assert.equal(j.name, 'click-soft');
    assert.deepEqual(j.match, { score: 90, queryWords: ['soft', 'click'], matchedWords: ['soft', 'click'], loose: false });
  });

  test('"door slam" is a loose match: the match field and a note on stderr say so', async () => {
    const j = okJson(await bundled('door slam', ['--json']));
    assert.equal(j.name, 'impact-bass-1');
    assert.deepEqual(j.match, { score: 1, queryWords: ['door', 'slam'], matchedWords: ['slam'], loose: true });
    const r = await bundled('door slam');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /loose match: impact-bass-1 has "slam" of "door slam"/);
    const exact = await bundled('whoosh');
    assert.doesNotMatch(exact.stderr, /loose/);
  });

  test('nothing found: the hint lists the closest names first; HeyGen hits have no match', async () => {
    const e = failJson(await bundled('wooosh', ['--json']), 'SFX_NOT_FOUND');
    assert.match(e.hint, /^Try one of: whoosh/);
    const j = okJson(await run(['sfx', 'whoosh', '--json'], { keys: { heygen: true } }));
    assert.equal(j.provider, 'heygen');
    assert.equal(j.match, null);
  });

  test('JS sfx() has the same match field', async () => {
    const script = `require(${JSON.stringify(path.resolve(__dirname, '..'))}).sfx('door slam', { provider: 'bundled', output: 'x.wav' })
      .then((r) => console.log(JSON.stringify(r.match)), (e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: home.dir, env: { PATH: process.env.PATH, HOME: home.dir } });
    assert.deepEqual(JSON.parse(out.toString()), { score: 1, queryWords: ['door', 'slam'], matchedWords: ['slam'], loose: true });
  });
});

describe('help texts say what the commands do (#21 item 8)', () => {
  /** The help of `flag` in `help`, on one line: clap prints `--flag <VALUE>  text`, or the text on
   * the lines under it when the help is long. */
  const helpLine = (help, flag) => {
    const lines = help.split('\n');
    const at = lines.findIndex((l) => l.trimStart().startsWith(`${flag} `) || l.includes(`, ${flag} `));
    assert.ok(at >= 0, `${flag} in\n${help}`);
    const entry = [lines[at]];
    for (const l of lines.slice(at + 1)) {
      if (l.trim() === '' || /^\s+-/.test(l)) break;
      entry.push(l.trim());
    }
    return entry.join(' ');
  };

  test('every captions format and extension listed in help works, and every format is listed', async () => {
    write('w.json', JSON.stringify(WORDS));
    const top = (await run(['--help'])).stdout;
    const captionsLine = top.split('\n').find((l) => /^\s+captions\s/.test(l));
    for (const name of ['SRT', 'WebVTT', 'ASS', 'Remotion']) assert.match(captionsLine, new RegExp(name), captionsLine);
    assert.match(top.split('\n').find((l) => /^\s+music\s/.test(l)), /MusicGen/);
    assert.match((await run(['music', '--help'])).stdout, /MusicGen/);
    for (const cmd of ['captions', 'tts', 'transcribe']) {
      const help = (await run([cmd, '--help'])).stdout;
      const formats = helpLine(help, '--to').replace(/^.*--to <\w+>\s+/, '').replace(/^Captions format:\s*/, '').replace(/\(.*$/, '').match(/[a-z]+/g)
        .filter((w) => !['or', 'captions', 'format', 'default'].includes(w));
      assert.deepEqual(formats.sort(), ['ass', 'remotion', 'srt', 'vtt'], `${cmd} --to: ${helpLine(help, '--to')}`);
      for (const f of formats) {
        const r = await run(['captions', 'w.json', '--to', f]);
        assert.equal(r.code, 0, `${cmd} --help lists --to ${f}: ${r.stderr}`);
      }
      if (cmd === 'captions') continue;
      const exts = helpLine(help, '--captions').match(/\.[a-z]+/g);
      assert.deepEqual(exts.sort(), ['.ass', '.json', '.srt', '.vtt'], `${cmd} --captions: ${helpLine(help, '--captions')}`);
      for (const ext of exts) okJson(await run(['captions', 'w.json', '-o', `out${ext}`, '--json']));
    }
  });
});
