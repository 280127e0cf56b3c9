export * from '../index';
import type { TtsOptions, TtsStreamChunk } from '../index';

/** Every rejected promise (and thrown error) of the API carries a stable `code` and, where there is one, a `hint`. */
export interface HyperframesError extends Error {
  name: 'HyperframesError';
  /** e.g. NOT_CONFIGURED, INVALID_STORE, UNAUTHENTICATED, MODEL_MISSING, UNKNOWN_VOICE, BAD_SPEED */
  code: string;
  hint?: string;
}

/** Speaks `text` chunk by chunk, yielding each chunk's samples and words as soon as it is ready. */
export declare function ttsStream(text: string, options?: TtsOptions): AsyncGenerator<TtsStreamChunk, void, undefined>;
