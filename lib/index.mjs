// The ESM entry point: the same module object as `require('hyperframes')` (one instance, no dual
// package state), with every function as a named export and the whole API as the default export.
import hf from './index.js';

export const {
  authStatus,
  authToken,
  beats,
  buildMedia,
  captions,
  describe,
  doctor,
  listVoices,
  loginWithApiKey,
  logout,
  loudness,
  modelsInstall,
  modelsList,
  modelsRemove,
  modelsVerify,
  music,
  normalizeLoudness,
  plan,
  refreshAuth,
  resolveCredential,
  runCli,
  sfx,
  transcribe,
  tts,
  ttsStream,
  ttsStreamStart,
  TtsStream,
} = hf;

export default hf;
