/**
 * What each `format` module provides. Inputs are already size-checked, OWS-trimmed and known
 * not to be an "absent" marker; outputs are DER blobs that each passed the one-SEQUENCE check.
 * Every failure is a CertgateError (400 malformed, 400 chain too long, 401 XFCC hash mismatch).
 */
export interface FormatDecoder {
  /** The certificate header: leaf first, then any chain it carries inline; [] = "no certificate". */
  readonly value: (value: string) => Uint8Array[];
  /** The separate chain header (`chainHeader`), without the leaf; absent when the format has none. */
  readonly chain?: (value: string) => Uint8Array[];
}
