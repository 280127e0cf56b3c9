'use strict';
// The JS API: the native functions, with their errors turned into Errors carrying `code`, `hint`
// and (chains) `anomalies`, plus `ttsStream()` as an async iterator over the native stream.
const native = require('./native.js');

function toError(err) {
  if (!(err instanceof Error)) return err;
  const match = /^([A-Z][A-Z0-9_]+): ([\s\S]*?)(?:\nHint: ([\s\S]*?))?(?:\nAnomalies: (\[[\s\S]*\]))?$/.exec(err.message);
  if (!match) return err;
  const out = new Error(match[2]);
  out.name = 'HyperframesError';
  out.code = match[1];
  if (match[3]) out.hint = match[3];
  if (match[4]) {
    try {
      out.anomalies = JSON.parse(match[4]);
    } catch {
      out.message = `${match[2]}\n${match[4]}`;
    }
  }
  return out;
}

function wrap(fn) {
  return function wrapped(...args) {
    let result;
    try {
      result = fn(...args);
    } catch (err) {
      throw toError(err);
    }
    if (result && typeof result.then === 'function') {
      return result.catch((err) => {
        throw toError(err);
      });
    }
    return result;
  };
}

// One plain `exports.name =` line per function: Node finds a CommonJS module's named exports for
// `import { tts } from 'hyperframes'` by reading these assignments, and cannot see through a loop.
// Adding a native function means adding its line here and in index.mjs (a test checks both).
exports.authStatus = wrap(native.authStatus);
exports.authToken = wrap(native.authToken);
exports.captions = wrap(native.captions);
exports.describe = wrap(native.describe);
exports.doctor = wrap(native.doctor);
exports.listVoices = wrap(native.listVoices);
exports.loginWithApiKey = wrap(native.loginWithApiKey);
exports.logout = wrap(native.logout);
exports.modelsInstall = wrap(native.modelsInstall);
exports.modelsList = wrap(native.modelsList);
exports.modelsRemove = wrap(native.modelsRemove);
exports.modelsVerify = wrap(native.modelsVerify);
exports.music = wrap(native.music);
exports.plan = wrap(native.plan);
exports.refreshAuth = wrap(native.refreshAuth);
exports.resolveCredential = wrap(native.resolveCredential);
exports.sfx = wrap(native.sfx);
exports.transcribe = wrap(native.transcribe);
exports.tts = wrap(native.tts);
exports.ttsStreamStart = wrap(native.ttsStreamStart);
exports.runCli = native.runCli;
exports.TtsStream = native.TtsStream;

/** Builds a script's audio; `options.onProgress(event)` hears about each line, effect and the bed as they finish. */
exports.buildMedia = wrap((request, options) => {
  if (options === null || typeof options !== 'object') return native.buildMedia(request, options); // a USAGE error
  const { onProgress, ...rest } = options;
  return native.buildMedia(request, rest, onProgress);
});

/** Speaks `text` chunk by chunk: yields `{index, count, sampleRate, samples, words}` as each is ready. */
exports.ttsStream = async function* ttsStream(text, options) {
  const stream = exports.ttsStreamStart(text, options);
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await stream.next();
      } catch (err) {
        throw toError(err);
      }
      if (chunk == null) return;
      yield chunk;
    }
  } finally {
    await stream.cancel();
  }
};
