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

for (const [name, value] of Object.entries(native)) {
  const isClass = /^[A-Z]/.test(name);
  module.exports[name] = typeof value === 'function' && !isClass && name !== 'runCli' ? wrap(value) : value;
}

/** Builds a script's audio; `options.onProgress(event)` hears about each line, effect and the bed as they finish. */
module.exports.buildMedia = wrap((request, options) => {
  if (options === null || typeof options !== 'object') return native.buildMedia(request, options); // a USAGE error
  const { onProgress, ...rest } = options;
  return native.buildMedia(request, rest, onProgress);
});

/** Speaks `text` chunk by chunk: yields `{index, count, sampleRate, samples, words}` as each is ready. */
module.exports.ttsStream = async function* ttsStream(text, options) {
  const stream = module.exports.ttsStreamStart(text, options);
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
