'use strict';
// `media build` killed mid-build keeps every line it finished: the rerun asks the provider only
// for the lines that were not done. The HeyGen contract server answers the first lines at once and
// holds the next one, so the build is killed (SIGKILL: no chance to clean up) while it waits.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const { useMedia } = require('./support/media-servers.js');

const SPEECH = 'POST /v3/voices/speech';
const MARCIA = '05f19352e8f74b0392a8f411eba40de1';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const outDir = () => path.join(home.dir, 'audio');

describe('media build interrupted', () => {
  test('a rerun after kill -9 reuses every finished line and asks only for the rest', async () => {
    const ids = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'];
    const req = { voice: MARCIA, concurrency: 1, lines: ids.map((id) => ({ id, text: `Line ${id} of the script.` })) };
    const reqPath = path.join(home.dir, 'request.json');
    fs.writeFileSync(reqPath, JSON.stringify(req));
    // Lines 1-3 are answered at once; the fourth request is held until the build is killed.
    media.heygen.queue(SPEECH, { fallthrough: true }, { fallthrough: true }, { fallthrough: true }, { delayMs: 120_000, fallthrough: true });
    const env = media.env({ heygen: true });
    const args = ['media', 'build', reqPath, '--out', outDir(), '--provider', 'heygen', '--no-fallback'];

    let killed = false;
    const first = await runCli(args, {
      home,
      env,
      onData: (text, child) => {
        if (!killed && /voice l3/.test(text) && media.heygen.hits(SPEECH).length === 4) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    assert.ok(killed, `the build was not interrupted:\n${first.output}`);
    assert.equal(first.code, 'signal SIGKILL');
    assert.equal(media.heygen.hits(SPEECH).length, 4, 'three lines done, the fourth in flight');

    const again = await runCli([...args, '--json'], { home, env });
    assert.equal(again.code, 0, again.output);
    const manifest = parseJson(again.stdout);
    assert.deepEqual(
      manifest.voices.map((v) => [v.id, v.reused]),
      ids.map((id, i) => [id, i < 3]),
    );
    assert.equal(media.heygen.hits(SPEECH).length, 4 + 3, 'only the three unfinished lines were asked for');
    assert.ok(!fs.existsSync(path.join(outDir(), 'audio_meta.journal.jsonl')), 'the manifest replaced the journal');
  });
});
