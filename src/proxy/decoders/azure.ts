import { decodeConcatenatedDerBase64, decodeDerBase64 } from './der-base64.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * Azure App Service `X-ARR-ClientCert`: base64 DER of the leaf. App Service does not check the
 * chain in its default mode, so the gateway's own chain validation is what counts.
 */
export const azureDecoder: FormatDecoder = {
  value: (v) => decodeDerBase64(v, 'azure certificate header'),
  chain: (v) => decodeConcatenatedDerBase64(v, 'azure chain header'),
};
