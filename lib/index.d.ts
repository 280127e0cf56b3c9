// The functions `lib/index.js` exports (each line matches one there) and every type of the addon's
// generated declarations, by name: a star export would also declare what the JS layer does not
// export. `buildMedia` and `ttsStream` are declared below with their JS signatures.
export {
  authStatus,
  authToken,
  beats,
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
  ttsStreamStart,
  TtsStream,
} from '../index';
export type {
  BrokenStatus,
  BeatsOptions,
  BeatsResult,
  BeatTime,
  BuildMediaOptions,
  CandidateReport,
  CapabilityPlan,
  CaptionOptions,
  CaptionWord,
  CredentialInfo,
  DescribeOptions,
  DescribeResult,
  DoctorCheck,
  DoctorMeta,
  DoctorReport,
  ImageDescription,
  InstalledFile,
  InstallOptions,
  InstallResult,
  LoginOptions,
  LoginResult,
  LogoutOptions,
  LogoutResult,
  LoudnessMeasures,
  MediaProgress,
  ModelFileState,
  ModelList,
  ModelReport,
  MusicOptions,
  MusicResult,
  NormalizeOptions,
  NormalizeResult,
  OfflineEngineReport,
  PersistedUser,
  PlanOptions,
  PlanReport,
  RefreshResult,
  SfxMatch,
  SfxOptions,
  SfxResult,
  SignedInStatus,
  SignedOutStatus,
  TokenResult,
  TranscribedWord,
  TranscribeOptions,
  TranscribeResult,
  TranscriptSegment,
  TtsOptions,
  TtsResult,
  TtsStreamChunk,
  TtyInfo,
  UnalignedWord,
  VoiceRow,
  Word,
} from '../index';
import type { BrokenStatus, BuildMediaOptions, MediaProgress, SignedInStatus, SignedOutStatus, TtsOptions, TtsStreamChunk } from '../index';

/** What `authStatus()` and `hyperframes auth status --json` give: signed in, signed out, or a broken credential (`configured` tells them apart). */
export type AuthStatus = SignedInStatus | SignedOutStatus | BrokenStatus;

/** Every rejected promise (and thrown error) of the API: a stable `code`, where there is one a `hint`, and for the provider chains `anomalies`, all set by the addon itself. */
export interface HyperframesError extends Error {
  name: 'HyperframesError';
  /** e.g. NOT_CONFIGURED, INVALID_STORE, UNAUTHENTICATED, MODEL_MISSING, UNKNOWN_VOICE, BAD_SPEED */
  code: string;
  hint?: string;
  /** For provider chains: what failed before the provider whose error this is. */
  anomalies?: string[];
}

/** Speaks `text` chunk by chunk, yielding each chunk's samples and words as soon as it is ready. */
export declare function ttsStream(text: string, options?: TtsOptions): AsyncGenerator<TtsStreamChunk, void, undefined>;

/** A sound effect placed on a line: a name (`"whoosh"`) or `{name, at (seconds into the line), volume}`. */
export type MediaCue = string | { name: string; at?: number; volume?: number };

/** What `buildMedia()` / `hyperframes media build` builds. */
export interface MediaRequest {
  /** The voice provider: `auto` (default), `heygen`, `elevenlabs` or `kokoro`. */
  provider?: string;
  voice?: string;
  speed?: number;
  lang?: string;
  /** Requests at once per hosted provider. */
  concurrency?: number;
  /** Pronunciations for whole words, `{ "word": "phonemes" }` (Kokoro symbols), or a lexicon file's path. */
  lexicon?: Record<string, string> | string;
  /** Each line becomes `voice/<id>.wav`; ids are letters, digits, `-`, `_` and `.`. */
  lines?: Array<{ id: string | number; text: string; voice?: string; speed?: number; lang?: string; sfx?: MediaCue | MediaCue[] }>;
  /** A music bed: a prompt, `true` for the default mood, or details (`bgm` is accepted too). */
  music?: boolean | string | { prompt?: string; query?: string; seconds?: number; provider?: string; mode?: 'auto' | 'retrieve' | 'generate' | 'none'; volume?: number };
  bgm?: MediaRequest['music'];
}

/** Timed words of a line, seconds from the line's start. */
export interface MediaWord { id: string; text: string; start: number; end: number }

/** `audio_meta.json`, as written into the output folder (paths are relative to it). */
export interface MediaManifest {
  version: 1;
  /** Every line was voiced (music and sound-effect failures are anomalies). */
  ok: boolean;
  tts_provider: string | null;
  voice_id: string | null;
  providers: { voice: string[]; music: string | null; sfx: string[] };
  voices: Array<{ id: string; path: string; words_path: string; provider: string; voice: string; duration_s: number; sample_rate: number; words: MediaWord[]; input_sha256: string; reused: boolean }>;
  failed: Array<{ id: string; code: string; error: string; hint: string | null }>;
  bgm: { path: string; provider: string; prompt: string; title: string | null; duration_s: number; volume: number; sample_rate: number; channels: number } | null;
  sfx: Array<{ line: string; name: string; offset_s: number; volume: number; path: string; provider: string; source_name: string; duration_s: number }>;
  anomalies: string[];
  total_duration_s: number;
  /** Where the manifest was written (only in the returned value). */
  manifest_path: string;
}

/**
 * A video script's whole audio: every line voiced with word timings, the sound-effect cues and a
 * music bed, written into `options.out` with `audio_meta.json`. `request` is the request object or
 * the path of a JSON file. A line that fails is listed in `failed` and never stops the others.
 * `onProgress` is called as the build starts and as each line, effect and the bed finishes.
 */
export declare function buildMedia(
  request: MediaRequest | string,
  options: BuildMediaOptions & { onProgress?: (event: MediaProgress) => void },
): Promise<MediaManifest>;
