export * from '../index';

/** Every rejected promise of the API carries a stable `code` and, where there is one, a `hint`. */
export interface HyperframesError extends Error {
  name: 'HyperframesError';
  /** e.g. NOT_CONFIGURED, INVALID_STORE, UNAUTHENTICATED, REFRESH_FAILED, API_ERROR, NETWORK_ERROR */
  code: string;
  hint?: string;
}
