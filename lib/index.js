'use strict';
// The JS API: the native functions, plus `ttsStream()` as an async iterator over the native
// stream. Their errors come from the addon as they are: `HyperframesError`s whose `code`, `hint`
// and (chains) `anomalies` the addon sets (src/napi/errors.rs).
const native = require('./native.js');

// One plain `exports.name =` line per function: Node finds a CommonJS module's named exports for
// `import { tts } from 'hyperframes'` by reading these assignments, and cannot see through a loop.
// Adding a native function means adding its line here and in index.mjs (a test checks both).
exports.authStatus = native.authStatus;
exports.authToken = native.authToken;
exports.beats = native.beats;
exports.captions = native.captions;
exports.describe = native.describe;
exports.doctor = native.doctor;
exports.listVoices = native.listVoices;
exports.loginWithApiKey = native.loginWithApiKey;
exports.logout = native.logout;
exports.loudness = native.loudness;
exports.modelsInstall = native.modelsInstall;
exports.modelsList = native.modelsList;
exports.modelsRemove = native.modelsRemove;
exports.modelsVerify = native.modelsVerify;
exports.music = native.music;
exports.normalizeLoudness = native.normalizeLoudness;
exports.plan = native.plan;
exports.refreshAuth = native.refreshAuth;
exports.resolveCredential = native.resolveCredential;
exports.sfx = native.sfx;
exports.transcribe = native.transcribe;
exports.tts = native.tts;
exports.ttsStreamStart = native.ttsStreamStart;
exports.runCli = native.runCli;
exports.TtsStream = native.TtsStream;

/** Builds a script's audio; `options.onProgress(event)` hears about each line, effect and the bed as they finish. */
exports.buildMedia = (request, options) => {
  if (options === null || typeof options !== 'object') return native.buildMedia(request, options); // a USAGE error
  const { onProgress, ...rest } = options;
  return native.buildMedia(request, rest, onProgress);
};

/** Speaks `text` chunk by chunk: yields `{index, count, sampleRate, samples, words}` as each is ready. */
exports.ttsStream = async function* ttsStream(text, options) {
  const stream = exports.ttsStreamStart(text, options);
  try {
    for (;;) {
      const chunk = await stream.next();
      if (chunk == null) return;
      yield chunk;
    }
  } finally {
    await stream.cancel();
  }
};
