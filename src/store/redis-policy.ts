/**
 * Redis must not evict certgate's keys. Which keys an eviction policy may drop:
 * - `allkeys-*` drops any key, including a revoke-all watermark (it has no expiry): tokens revoked
 *   by it would work again. That is the bypass a flood produced before limits existed.
 * - `volatile-*` drops only keys with an expiry — but all of certgate's other keys have one: token
 *   records (lost tokens: refused, fail closed, yet real users locked out), the outstanding-token
 *   sets (quotas undercount) and the login-rate counters (limits reset). Under memory pressure, i.e. exactly during a flood, the limits would
 *   stop holding. So this is refused too.
 * - `noeviction` makes a full Redis refuse writes with an OOM error: logins and calls answer 503
 *   (fail closed) and nothing already stored changes. The only policy accepted.
 */
export const REQUIRED_POLICY = 'noeviction';

export type PolicyVerdict =
  | { status: 'ok'; node: string; policy: string }
  | { status: 'misconfigured'; node: string; policy: string; message: string }
  /** CONFIG is disabled, renamed or not permitted: the policy cannot be verified. */
  | { status: 'unverifiable'; node: string; message: string };

/** Judges one node's `CONFIG GET maxmemory-policy` answer (or the error it returned). */
export function judgePolicy(node: string, reply: unknown): PolicyVerdict {
  if (reply instanceof Error) {
    return {
      status: 'unverifiable',
      node,
      message: `cannot read maxmemory-policy from Redis at ${node} (${reply.message.split('\n')[0]}): CONFIG is disabled or not permitted; make sure the policy is ${REQUIRED_POLICY}`,
    };
  }
  const flat = Array.isArray(reply) ? reply.map(String) : [];
  const policy = flat[flat.indexOf('maxmemory-policy') + 1];
  if (flat.indexOf('maxmemory-policy') < 0 || policy === undefined) {
    return { status: 'unverifiable', node, message: `Redis at ${node} did not report maxmemory-policy; make sure it is ${REQUIRED_POLICY}` };
  }
  if (policy === REQUIRED_POLICY) return { status: 'ok', node, policy };
  return {
    status: 'misconfigured',
    node,
    policy,
    message:
      `Redis at ${node} has maxmemory-policy ${policy}: under memory pressure it may evict certgate's keys ` +
      `(revoke-all watermarks, token records, login limits), so logins and calls are refused until it is ${REQUIRED_POLICY}`,
  };
}
