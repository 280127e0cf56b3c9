'use strict';
// Contract servers on 127.0.0.1 for the hosted media providers, speaking the documented shapes:
//
//   heygen      POST /v3/voices/speech, GET /v3/voices (paged), GET /v3/audio/sounds (music and
//               sound effects, three envelopes), and the OAuth token endpoint (inherited from the
//               auth contract server, so a 401 can be followed by a real refresh)
//   cdn         the presigned audio links HeyGen hands out (GET /audio/<name>)
//   eleven      POST /v1/text-to-speech/<voice>/with-timestamps, GET /v1/voices
//   gemini      POST /v1beta/models/<model>:generateContent (descriptions, and Lyria music)
//   openrouter  POST /v1/chat/completions
//
// Each is a ContractServer (see contract-server.js): every request is logged with its headers and
// parsed body, every route can be scripted with one-shot specs (`queue('POST /path', spec…)`), and
// each server counts the connections it accepted (`connections`), so a test can prove that nothing
// was contacted. Error bodies echo the credential they were sent, as careless servers do: the
// client must scrub it. Audio is real: a 0.5 s 440 Hz MP3 (src/audio/testdata) and WAVs built here.

const fs = require('node:fs');
const path = require('node:path');
const { before, after, beforeEach, afterEach } = require('node:test');
const { ContractServer } = require('./contract-server.js');
const { ROOT, makeHome } = require('./cli.js');

/** 0.5 s of a 440 Hz sine, 44.1 kHz mono, LAME MP3. */
const MP3 = fs.readFileSync(path.join(ROOT, 'src', 'audio', 'testdata', 'sine440.mp3'));
const MP3_SECONDS = 0.5;

// Distinctive credentials, so a leak is easy to spot.
const KEYS = {
  heygen: 'hg_MEDIASECRET_0123456789abcdef',
  eleven: 'el_SECRETELEVEN_0123456789abcdef',
  gemini: 'AIzaSECRETGEMINI_0123456789abcdefghij',
  openrouter: 'sk-or-v1-SECRETOPENROUTER0123456789abcdef',
};

/** A 16-bit PCM WAV of a sine: `{seconds, rate, channels, freq, amp}`. */
function wavBytes({ seconds = 1, rate = 44100, channels = 1, freq = 440, amp = 0.5 } = {}) {
  const frames = Math.round(seconds * rate);
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate) * 32767);
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, (i * channels + c) * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

const round3 = (x) => Math.round(x * 1000) / 1000;

/** A ContractServer that also counts connections and serves extra routes (`routes(key, entry, res)`). */
class Fake extends ContractServer {
  constructor(name) {
    super();
    this.name = name;
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  reset() {
    super.reset();
    this.connections = 0;
  }

  /** Logged requests whose `METHOD path` matches `re` (a RegExp or an exact string). */
  hits(re) {
    return this.log.filter((r) => (typeof re === 'string' ? `${r.method} ${r.path}` === re : re.test(`${r.method} ${r.path}`)));
  }

  _default(key, entry, res) {
    if (this.routes(key, entry, res) === false) super._default(key, entry, res);
  }

  routes() {
    return false;
  }

  json(res, status, json, headers) {
    this._send(res, { status, json, headers });
  }
}

// ---- HeyGen --------------------------------------------------------------------------------------

function voice(i) {
  const langs = ['English', 'Spanish', 'English', 'French'];
  return {
    voice_id: (i.toString(16).padStart(2, '0') + 'a'.repeat(30)).slice(0, 32),
    name: `Voice ${i}`,
    language: langs[i % langs.length],
    gender: i % 2 ? 'male' : 'female',
    preview_audio_url: 'https://example.invalid/preview.mp3',
  };
}

class HeygenFake extends Fake {
  constructor(cdn) {
    super('heygen');
    this.cdn = cdn;
  }

  reset() {
    super.reset();
    /** Seconds the speech audio lasts (the MP3 fixture). */
    this.speechSeconds = MP3_SECONDS;
    this.speechAudio = 'speech.mp3';
    /** Pages of the voice catalog. */
    this.voicePages = [[voice(0), voice(1), voice(2)], [voice(3), voice(4)]];
    /** 'array' (ranked `data: [...]`), 'legacy' (`data: {"0": …}`) or 'items' (`data: {items: [...]}`). */
    this.soundsEnvelope = 'array';
    this.sounds = {
      music: [
        { id: 'm2', name: 'Second best', description: 'piano', audio_url: 'music2.wav', duration: 2, score: 0.75 },
        { id: 'm1', name: 'Calm Horizon', description: 'calm cinematic underscore', audio_url: 'music.wav', duration: 2, score: 0.91 },
      ],
      sound_effects: [
        { id: 's1', name: 'Big Whoosh', description: 'a fast whoosh', audio_url: 'sfx.wav', duration: 0.4, score: 0.55 },
        { id: 's2', name: 'Faint whoosh', description: 'barely', audio_url: 'sfx2.wav', duration: 0.4, score: 0.2 },
      ],
    };
  }

  _authed(entry) {
    const key = entry.headers['x-api-key'];
    const bearer = /^Bearer (.+)$/i.exec(entry.headers.authorization || '');
    return (key !== undefined && this.apiKeys.has(key)) || (bearer && this.accessTokens.has(bearer[1]));
  }

  _unauthorized(entry, res) {
    const bearer = /^Bearer (.+)$/i.exec(entry.headers.authorization || '');
    const presented = entry.headers['x-api-key'] || (bearer && bearer[1]) || '';
    this.json(res, 401, { error: { code: 'unauthorized', message: `credential ${presented} is not valid` } });
  }

  routes(key, entry, res) {
    switch (key) {
      case 'POST /v3/voices/speech':
        return this._speech(entry, res);
      case 'GET /v3/voices':
        return this._voices(entry, res);
      case 'GET /v3/audio/sounds':
        return this._sounds(entry, res);
      default:
        return false;
    }
  }

  _speech(entry, res) {
    if (!this._authed(entry)) return this._unauthorized(entry, res);
    const b = entry.body && typeof entry.body === 'object' ? entry.body : {};
    const text = typeof b.text === 'string' ? b.text : '';
    if (!text.trim() || text.length > 5000) {
      return this.json(res, 400, { error: { code: 'invalid_parameter', message: 'text must be 1-5000 characters' } });
    }
    if (!/^[0-9a-f]{32}$/.test(b.voice_id || '')) {
      return this.json(res, 400, { error: { code: 'invalid_voice', message: `voice ${b.voice_id} is not a Starfish voice` } });
    }
    const words = text.split(/\s+/).filter(Boolean);
    const per = this.speechSeconds / words.length;
    const stamps = [
      { word: '<start>', start: 0, end: 0 },
      ...words.map((w, i) => ({ word: w, start: round3(i * per), end: round3((i + 1) * per) })),
      { word: '<end>', start: this.speechSeconds, end: this.speechSeconds },
    ];
    return this.json(res, 200, {
      code: 100,
      message: 'ok',
      data: {
        audio_url: `${this.cdn.url}/audio/${this.speechAudio}?X-Amz-Signature=presigned`,
        duration: this.speechSeconds,
        request_id: `req_${this.log.length}`,
        word_timestamps: stamps,
      },
    });
  }

  _voices(entry, res) {
    if (!this._authed(entry)) return this._unauthorized(entry, res);
    const page = entry.query.token ? Number(entry.query.token.replace('page_', '')) : 0;
    const list = this.voicePages[page] || [];
    const more = page + 1 < this.voicePages.length;
    return this.json(res, 200, { data: { voices: list, has_more: more, next_token: more ? `page_${page + 1}` : null } });
  }

  _sounds(entry, res) {
    if (!this._authed(entry)) return this._unauthorized(entry, res);
    const q = entry.query;
    if (!q.query || !q.query.trim()) return this.json(res, 400, { error: { code: 'invalid_parameter', message: 'query is required' } });
    const minScore = q.min_score !== undefined ? Number(q.min_score) : 0.7;
    const limit = Number(q.limit || 10);
    const items = (this.sounds[q.type] || [])
      .filter((s) => s.score >= minScore)
      .sort((a, b) => b.score - a.score)
      .slice(0, limit)
      .map((s) => ({ ...s, type: q.type, audio_url: `${this.cdn.url}/audio/${s.audio_url}?X-Amz-Signature=presigned` }));
    let data;
    if (this.soundsEnvelope === 'legacy') data = Object.fromEntries(items.map((s, i) => [String(i), s]));
    else if (this.soundsEnvelope === 'items') data = { items, has_more: false, next_token: null };
    else data = items;
    return this.json(res, 200, { code: 100, message: 'ok', data });
  }
}

// ---- the CDN behind presigned links -------------------------------------------------------------

class CdnFake extends Fake {
  constructor() {
    super('cdn');
  }

  reset() {
    super.reset();
    /** name → { body: Buffer, type } */
    this.files = {
      'speech.mp3': { body: MP3, type: 'audio/mpeg' },
      'music.wav': { body: wavBytes({ seconds: 2, rate: 44100, channels: 2 }), type: 'audio/wav' },
      'music2.wav': { body: wavBytes({ seconds: 2, rate: 22050, channels: 1 }), type: 'audio/wav' },
      'sfx.wav': { body: wavBytes({ seconds: 0.4, rate: 44100, channels: 1, freq: 880 }), type: 'audio/wav' },
      'sfx2.wav': { body: wavBytes({ seconds: 0.4, rate: 44100, channels: 1 }), type: 'audio/wav' },
    };
  }

  routes(key, entry, res) {
    const m = /^GET \/audio\/(.+)$/.exec(key);
    if (!m) return false;
    const f = this.files[m[1]];
    if (!f) return this.json(res, 404, { error: 'no such object' });
    return this._send(res, { status: 200, body: f.body, headers: { 'content-type': f.type } });
  }
}

// ---- ElevenLabs -----------------------------------------------------------------------------------

/** ElevenLabs' per-character alignment of `text` spread over `seconds`. */
function alignment(text, seconds) {
  const chars = [...text];
  const per = seconds / Math.max(1, chars.length);
  return {
    characters: chars,
    character_start_times_seconds: chars.map((_, i) => round3(i * per)),
    character_end_times_seconds: chars.map((_, i) => round3((i + 1) * per)),
  };
}

class ElevenFake extends Fake {
  constructor() {
    super('elevenlabs');
  }

  reset() {
    super.reset();
    /** The audio every speech reply carries (base64 in the JSON). */
    this.speechAudio = MP3;
    this.voices = [
      { voice_id: '21m00Tcm4TlvDq8ikWAM', name: 'Rachel', category: 'premade', labels: { gender: 'female', language: 'en' } },
      { voice_id: 'SAz9YHcvj6GT2YYXdXww', name: 'River', category: 'premade', labels: { gender: 'neutral', language: 'en' } },
    ];
  }

  _authed(entry) {
    return this.apiKeys.has(entry.headers['xi-api-key']);
  }

  _unauthorized(entry, res) {
    const presented = entry.headers['xi-api-key'] || '';
    this.json(res, 401, { detail: { status: 'invalid_api_key', message: `Invalid API key: ${presented}` } });
  }

  routes(key, entry, res) {
    const tts = /^POST \/v1\/text-to-speech\/([^/]+)\/with-timestamps$/.exec(key);
    if (tts) {
      if (!this._authed(entry)) return this._unauthorized(entry, res);
      if (!this.voices.some((v) => v.voice_id === tts[1])) {
        return this.json(res, 404, { detail: { status: 'voice_not_found', message: `A voice with the voice_id ${tts[1]} was not found.` } });
      }
      const text = entry.body && typeof entry.body.text === 'string' ? entry.body.text : '';
      if (!text.trim()) return this.json(res, 400, { detail: { status: 'invalid_text', message: 'text is empty' } });
      return this.json(res, 200, {
        audio_base64: this.speechAudio.toString('base64'),
        alignment: alignment(text, MP3_SECONDS),
        normalized_alignment: alignment(text.toLowerCase(), MP3_SECONDS),
      });
    }
    if (key === 'GET /v1/voices') {
      if (!this._authed(entry)) return this._unauthorized(entry, res);
      return this.json(res, 200, { voices: this.voices });
    }
    return false;
  }
}

// ---- Gemini (descriptions and Lyria) --------------------------------------------------------------

class GeminiFake extends Fake {
  constructor() {
    super('gemini');
  }

  reset() {
    super.reset();
    this.description = 'A red square on a dark background (gemini).';
    this.lyriaAudio = wavBytes({ seconds: 3, rate: 48000, channels: 2, freq: 330 });
  }

  routes(key, entry, res) {
    const m = /^POST \/v1beta\/models\/([^/:]+):generateContent$/.exec(key);
    if (!m) return false;
    const presented = entry.headers['x-goog-api-key'] || '';
    if (!this.apiKeys.has(presented)) {
      return this.json(res, 400, {
        error: { code: 400, message: `API key not valid. Please pass a valid API key. (${presented})`, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] },
      });
    }
    if (m[1].startsWith('lyria')) {
      return this.json(res, 200, {
        candidates: [
          {
            content: { role: 'model', parts: [{ text: 'Instrumental, calm.' }, { inlineData: { mimeType: 'audio/wav', data: this.lyriaAudio.toString('base64') } }] },
            finishReason: 'STOP',
          },
        ],
      });
    }
    return this.json(res, 200, {
      candidates: [{ content: { role: 'model', parts: [{ text: this.description }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 12 },
    });
  }
}

// ---- OpenRouter -------------------------------------------------------------------------------------

class OpenRouterFake extends Fake {
  constructor() {
    super('openrouter');
  }

  reset() {
    super.reset();
    this.description = 'A red square on a dark background (openrouter).';
  }

  routes(key, entry, res) {
    if (key !== 'POST /v1/chat/completions') return false;
    const bearer = /^Bearer (.+)$/i.exec(entry.headers.authorization || '');
    if (!bearer || !this.apiKeys.has(bearer[1])) {
      return this.json(res, 401, { error: { code: 401, message: `No auth credentials found for ${bearer ? bearer[1] : ''}` } });
    }
    return this.json(res, 200, {
      id: 'gen-1',
      model: entry.body && entry.body.model,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: this.description } }],
    });
  }
}

// ---- all of them ------------------------------------------------------------------------------------

/**
 * Starts every fake. Returns `{heygen, cdn, eleven, gemini, openrouter, all, reset(), stop(),
 * connections(), env(opts)}`.
 */
async function startMedia() {
  const cdn = await new CdnFake().start();
  const heygen = await new HeygenFake(cdn).start();
  const eleven = await new ElevenFake().start();
  const gemini = await new GeminiFake().start();
  const openrouter = await new OpenRouterFake().start();
  const all = [heygen, cdn, eleven, gemini, openrouter];
  const m = {
    heygen,
    cdn,
    eleven,
    gemini,
    openrouter,
    all,
    reset() {
      for (const s of all) s.reset();
      heygen.addApiKey(KEYS.heygen);
      eleven.addApiKey(KEYS.eleven);
      gemini.addApiKey(KEYS.gemini);
      openrouter.addApiKey(KEYS.openrouter);
    },
    async stop() {
      for (const s of all) await s.stop();
    },
    /** Connections accepted across every fake since the last reset. */
    connections() {
      return all.reduce((n, s) => n + s.connections, 0);
    },
    /**
     * The environment for a run: every base URL points here (also the model mirror and the OAuth
     * endpoints, so nothing can leave 127.0.0.1); keys only for the providers asked for.
     */
    env({ heygen: hg = true, eleven: el = false, gemini: gm = false, openrouter: or = false } = {}) {
      const e = {
        HEYGEN_API_URL: heygen.url,
        ELEVENLABS_API_URL: eleven.url,
        GEMINI_API_URL: gemini.url,
        OPENROUTER_API_URL: openrouter.url,
        HYPERFRAMES_MODEL_MIRROR: `${cdn.url}/mirror`,
        HYPERFRAMES_OAUTH_AUTHORIZE_URL: `${heygen.url}/oauth/authorize`,
        HYPERFRAMES_OAUTH_TOKEN_URL: `${heygen.url}/oauth/token`,
        HYPERFRAMES_OAUTH_REVOKE_URL: `${heygen.url}/oauth/revoke`,
        HYPERFRAMES_OAUTH_DEVICE_URL: `${heygen.url}/oauth/device_authorization`,
        HYPERFRAMES_OAUTH_CLIENT_ID: 'test-client',
      };
      if (hg) e.HEYGEN_API_KEY = KEYS.heygen;
      if (el) e.ELEVENLABS_API_KEY = KEYS.eleven;
      if (gm) e.GEMINI_API_KEY = KEYS.gemini;
      if (or) e.OPENROUTER_API_KEY = KEYS.openrouter;
      return e;
    },
  };
  m.reset();
  return m;
}

/**
 * Per-file wiring: the fakes for the whole file (reset before each test) and a fresh temp HOME per
 * test; `bind(media, home)` hands both to the file whenever they change.
 */
function useMedia(bind) {
  let media;
  let home;
  before(async () => {
    media = await startMedia();
    bind(media, home);
  });
  after(async () => {
    await media.stop();
  });
  beforeEach(() => {
    media.reset();
    home = makeHome();
    bind(media, home);
  });
  afterEach(() => {
    home.cleanup();
  });
}

/**
 * Inside a describe: for each test, process.env holds this test's HOME and the fakes' URLs and keys
 * (for `keys`) and `extra`, so the JS API sees them; restored after the test. `current()` → {media, home}.
 */
function useApiEnv(current, keys, extra = {}) {
  let restore;
  beforeEach(() => {
    const { media, home } = current();
    restore = setProcessEnv({
      HOME: home.dir,
      HEYGEN_CONFIG_DIR: home.configDir,
      HYPERFRAMES_MODELS_DIR: home.modelsDir,
      ...media.env(keys),
      ...extra,
    });
  });
  afterEach(() => restore());
}

/** The `HEYGEN_*`, provider and `HYPERFRAMES_*` variables a JS-API test must clear first. */
const API_ENV = /^(HEYGEN_|HYPERFRAMES_|ELEVENLABS_|GEMINI_|GOOGLE_API_KEY$|OPENROUTER_|HF_|ORT_|HOME$|USERPROFILE$)/;

/** Sets `vars` in process.env (after clearing what API_ENV matches); returns a restore function. */
function setProcessEnv(vars) {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (API_ENV.test(k)) delete process.env[k];
  // Each JS-API test is its own run: a provider that failed in an earlier test of this process is
  // not skipped in the next (hosted-waits.test.js covers the skipping, also across JS calls).
  Object.assign(process.env, { HYPERFRAMES_PROVIDER_COOLDOWN_MS: '1' }, vars);
  return () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  };
}

/** A 1×1 red PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

module.exports = { startMedia, useMedia, useApiEnv, wavBytes, alignment, MP3, MP3_SECONDS, KEYS, PNG, API_ENV, setProcessEnv };
