import { audit } from '../audit/events.js';
import { isCertgateError } from '../errors.js';
import { authenticateCertificate } from '../identity/authenticate.js';
import { liveOf } from '../live/state.js';
import { PathWork } from '../pki/path/path-work.js';
import type { TokenResponse } from '../token/service.js';
import { LoginLimits } from '../token/login-limits.js';
import { loginRequest } from './api/schemas.js';
import { parseBody } from './body.js';
import { callerOf, presentedCertificate, requireCertificate, type RequestView } from './caller.js';
import type { Gateway } from './gateway.js';

/** The login endpoint's exact path; src/http/fast-paths.ts answers it in front of Koa. */
export const LOGIN_PATH = '/api/v1/auth/tls-cert-auth/login';

/**
 * The certificate login, whoever routes the request to it: the Koa route (src/http/routes/auth.ts)
 * and the fast path in front of Koa (src/http/fast-paths.ts) both call the function returned here,
 * so both count, check, audit and answer alike. Resolves to the token response; refusals throw.
 */
export function loginHandler(gw: Gateway): (view: RequestView) => Promise<TokenResponse> {
  // gw.config is read at each login: a reloaded `limits:` applies at once.
  const limits = new LoginLimits(gw.store, () => gw.config.limits, gw.clock);
  return async (view) => {
    const caller = callerOf(view, gw);
    const fields: Record<string, unknown> = { peer: caller.peer, clientIp: caller.clientIp, direct: caller.direct };
    // Every attempt counts against its address's rate exactly once: before any path search (the
    // work the limit bounds), else with the login's own store writes (one round trip for both),
    // else — an attempt refused before those — on its way out, where a 429 replaces the refusal.
    let addressCounted = false;
    const countAddress = () => {
      addressCounted = true;
      return limits.admitAddress(caller.clientIp);
    };
    try {
      const identityId = (await parseBody(view, loginRequest)).identityId ?? undefined;
      const cert = requireCertificate(presentedCertificate(view, gw, caller));
      Object.assign(fields, { certSha256: cert.leaf.sha256, cn: cert.leaf.commonNames[0], serial: cert.leaf.serial, requestedIdentity: identityId });
      // Revocation (CRL, OCSP) is checked inside; a certificate found revoked loses its tokens too
      // (src/revocation/certificate-revocations.ts). Revoked-certificate markers are read by issue.
      const auth = await authenticateCertificate({
        cert,
        clientIp: caller.clientIp,
        identityId,
        identities: liveOf(view).identities,
        now: new Date(gw.clock.now()),
        revocation: gw.revocation,
        work: new PathWork({ onVerify: (cost) => { gw.metrics.pathVerifications.inc(); gw.metrics.pathWorkUnits.inc(cost); } }),
        paths: gw.paths,
        beforePathSearch: countAddress,
      });
      // The identity's login rate is counted by the store with the quota, in put's first step.
      const addressRate = addressCounted ? undefined : limits.addressRate(caller.clientIp);
      addressCounted = true;
      const { response, record } = await gw.tokens.issue(auth.identity, auth.leaf, {
        maxOutstanding: gw.config.limits.outstandingTokensPerIdentity,
        identityRate: limits.identityRate(),
        addressRate,
        path: auth.path,
      });
      Object.assign(fields, { identity: auth.identity.config.id, jti: record.jti, outcome: 'success' });
      gw.metrics.logins.inc({ outcome: 'success', code: '' });
      audit(gw.log, 'login', fields);
      return response;
    } catch (refusal) {
      let e = refusal;
      if (!addressCounted) {
        try {
          await countAddress();
        } catch (over) {
          e = over;
        }
      }
      const code = isCertgateError(e) ? e.code : 'internal_error';
      gw.metrics.logins.inc({ outcome: 'refused', code });
      audit(gw.log, 'login', { ...fields, outcome: 'refused', reason: code });
      throw e;
    }
  };
}
