'use strict';
// The JS API: the native functions, with their errors turned into Errors carrying `code` and `hint`.
const native = require('./native.js');

function toError(err) {
  if (!(err instanceof Error)) return err;
  const match = /^([A-Z][A-Z_]+): ([\s\S]*?)(?:\nHint: ([\s\S]*))?$/.exec(err.message);
  if (!match) return err;
  const out = new Error(match[2]);
  out.name = 'HyperframesError';
  out.code = match[1];
  if (match[3]) out.hint = match[3];
  return out;
}

function wrap(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toError(err);
    }
  };
}

for (const [name, value] of Object.entries(native)) {
  module.exports[name] = typeof value === 'function' && name !== 'runCli' ? wrap(value) : value;
}
