/**
 * `certgate/client`: a certgate access token for Node workloads, and HTTP clients (undici fetch,
 * an undici Dispatcher, an axios interceptor) that send it.
 */
export { CertgateClient } from './client.js';
export { CertgateClientError } from './errors.js';
export type { AxiosLike } from './axios.js';
export type { CertgateClientOptions, ClientEvent, Pem, RetryOptions, TokenInfo } from './types.js';
