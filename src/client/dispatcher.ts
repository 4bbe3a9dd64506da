import { Dispatcher, type Agent } from 'undici';

type Headers = Dispatcher.DispatchOptions['headers'];
type AnyHandler = Dispatcher.DispatchHandler & { onError?: (e: Error) => void };

/**
 * An undici Dispatcher that fetches a token before each request and adds it as
 * `Authorization: Bearer …` (unless the request already has an Authorization header), then
 * hands the request to an Agent. The Agent can be swapped when the certificate rotates.
 */
export class BearerDispatcher extends Dispatcher {
  constructor(
    private agent: Agent,
    private readonly token: () => Promise<string>,
  ) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const agent = this.agent;
    if (hasAuthorization(opts.headers)) return agent.dispatch(opts, handler);
    this.token().then(
      (t) => agent.dispatch({ ...opts, headers: withAuthorization(opts.headers, `Bearer ${t}`) }, handler),
      (e: Error) => fail(handler as AnyHandler, e),
    );
    return true;
  }

  /** Later requests go to `next`; requests in flight finish on the old agent. */
  async replace(next: Agent): Promise<void> {
    const old = this.agent;
    this.agent = next;
    await old.close();
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = this.agent.close();
    if (!callback) return p;
    void p.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const p = this.agent.destroy(err);
    if (!callback) return p;
    void p.then(callback, callback);
  }
}

/** Reports a failed token fetch to whichever handler style undici handed us. */
function fail(handler: AnyHandler, e: Error): void {
  if (typeof handler.onResponseError === 'function') {
    handler.onResponseError({ abort() {}, pause() {}, resume() {}, aborted: true, paused: false, reason: e, rawHeaders: null, rawTrailers: null } as never, e);
  } else handler.onError?.(e);
}

function hasAuthorization(h: Headers): boolean {
  if (!h) return false;
  if (Array.isArray(h)) return h.some((v, i) => i % 2 === 0 && String(v).toLowerCase() === 'authorization');
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k] of h as Iterable<[string, unknown]>) if (k.toLowerCase() === 'authorization') return true;
    return false;
  }
  return Object.keys(h).some((k) => k.toLowerCase() === 'authorization');
}

/** undici accepts headers as a flat array, an iterable of pairs or a record: keep the shape. */
function withAuthorization(h: Headers, value: string): Headers {
  if (!h) return { authorization: value };
  if (Array.isArray(h)) return [...h, 'authorization', value];
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return [...(h as Iterable<[string, string | string[]]>)].flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v])).concat(['authorization', value]);
  }
  return { ...(h as Record<string, string>), authorization: value };
}
