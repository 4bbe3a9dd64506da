/**
 * The part of an axios instance the client uses, typed structurally so that axios stays an
 * optional peer: nothing here imports it.
 */
export interface AxiosLike {
  interceptors: {
    request: {
      // `any`: axios's own config type, which this package must not import.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      use(onFulfilled: (config: any) => any): number;
    };
  };
}

interface AxiosRequestConfigLike {
  headers?: unknown;
}

interface HeadersLike {
  has?(name: string): boolean;
  set(name: string, value: string): unknown;
}

/** Adds `Authorization: Bearer …` to every request of that instance that has none. */
export function installAxiosInterceptor(instance: AxiosLike, token: () => Promise<string>): number {
  return instance.interceptors.request.use(async (config: AxiosRequestConfigLike) => {
    const h = config.headers as HeadersLike | Record<string, unknown> | undefined;
    if (h && typeof (h as HeadersLike).set === 'function') {
      // axios ≥ 1: AxiosHeaders, case-insensitive.
      const ah = h as HeadersLike;
      if (!ah.has?.('authorization')) ah.set('Authorization', `Bearer ${await token()}`);
    } else {
      const plain = (h ?? {}) as Record<string, unknown>;
      if (!Object.keys(plain).some((k) => k.toLowerCase() === 'authorization')) plain.Authorization = `Bearer ${await token()}`;
      config.headers = plain;
    }
    return config;
  });
}
