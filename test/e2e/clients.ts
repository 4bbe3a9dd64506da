/**
 * The three kinds of HTTP client users put in front of certgate, driven the same way: the curl
 * binary, Node's https.Agent + axios, and undici. Each call may present a client certificate,
 * add (forged) headers, and bind its source address — that is how the suites pretend to be a
 * client outside the trusted proxies on loopback.
 */
import { execFile } from 'node:child_process';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import axios from 'axios';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { ensureBinary } from '../helpers/launcher.js';

/** A client certificate as files (curl) and PEM (Node): the chain the client sends, and its key. */
export interface ClientCreds {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface Call {
  method: 'GET' | 'POST';
  url: string;
  /** An array value is sent as several field lines of the same name. */
  headers?: Record<string, string | string[]>;
  body?: unknown;
  /** Present this certificate in the TLS handshake (https URLs only). */
  creds?: ClientCreds;
  /** Source address to bind, e.g. 127.0.0.3 (outside certgate's trusted proxies). */
  localAddress?: string;
}

export interface Reply {
  status: number;
  body: any;
  /** Lower-case names. */
  headers: Record<string, string>;
}

export interface Client {
  readonly name: 'curl' | 'axios' | 'undici';
  /** Whether it can send two field lines with the same name (axios merges them). */
  readonly canRepeatHeaders: boolean;
  call(c: Call): Promise<Reply>;
  close(): Promise<void>;
}

const parseBody = (text: string): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

const headerLines = (h: Call['headers'] = {}) =>
  Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as const) : [[k, v] as const]));

/** The curl binary (a fresh process per call: no TLS session is ever resumed). */
export function curlClient(caFile: string): Client {
  const curl = ensureBinary('curl', 'curl');
  return {
    name: 'curl',
    canRepeatHeaders: true,
    close: async () => {},
    call: (c) => {
      const args = ['-sS', '--max-time', '20', '--noproxy', '*', '--cacert', caFile, '-X', c.method, '-D', '-'];
      if (c.creds) args.push('--cert', c.creds.certFile, '--key', c.creds.keyFile);
      if (c.localAddress) args.push('--interface', c.localAddress);
      for (const [k, v] of headerLines(c.headers)) args.push('-H', `${k}: ${v}`);
      if (c.body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(c.body));
      args.push(c.url);
      return new Promise((resolve, reject) => {
        execFile(curl, args, { encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`curl ${c.method} ${c.url} failed: ${stderr || err.message}`));
          // -D - puts the response head first; a 100 Continue head may precede the final one.
          let rest = stdout;
          let head = '';
          do {
            const end = rest.indexOf('\r\n\r\n');
            if (end < 0) return reject(new Error(`curl: no response head in ${JSON.stringify(stdout.slice(0, 200))}`));
            head = rest.slice(0, end);
            rest = rest.slice(end + 4);
          } while (/^HTTP\/\S+ 1\d\d/.test(head));
          const [statusLine, ...lines] = head.split('\r\n');
          const headers: Record<string, string> = {};
          for (const l of lines) {
            const i = l.indexOf(':');
            if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
          }
          resolve({ status: Number(statusLine!.split(' ')[1]), body: parseBody(rest), headers });
        });
      });
    },
  };
}

/**
 * axios over a Node https.Agent per call, as a service would configure it. Session caching is
 * off so that each login is a full handshake: on a resumed session HAProxy and Apache forward no
 * chain (see proxy-configs READMEs), and these suites keep the intermediate out of the identity
 * bundle precisely to prove that the chain header works.
 */
export function axiosClient(caPem: string): Client {
  const agents: (HttpsAgent | HttpAgent)[] = [];
  return {
    name: 'axios',
    canRepeatHeaders: false,
    close: async () => agents.forEach((a) => a.destroy()),
    call: async (c) => {
      const https = c.url.startsWith('https:');
      const agent = https
        ? new HttpsAgent({ ca: caPem, cert: c.creds?.certPem, key: c.creds?.keyPem, localAddress: c.localAddress, maxCachedSessions: 0 })
        : new HttpAgent({ localAddress: c.localAddress });
      agents.push(agent);
      const res = await axios.request({
        method: c.method,
        url: c.url,
        data: c.body,
        headers: Object.fromEntries(headerLines(c.headers)),
        ...(https ? { httpsAgent: agent } : { httpAgent: agent }),
        proxy: false,
        validateStatus: () => true,
        responseType: 'text',
        transformResponse: (x: unknown) => x,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      return { status: res.status, body: parseBody(String(res.data ?? '')), headers };
    },
  };
}

/** undici with its own Agent per call (connect options carry the certificate). */
export function undiciClient(caPem: string): Client {
  const agents: UndiciAgent[] = [];
  return {
    name: 'undici',
    canRepeatHeaders: true,
    close: async () => {
      await Promise.all(agents.map((a) => a.close()));
    },
    call: async (c) => {
      const dispatcher = new UndiciAgent({
        // The source address is a Client option: undici passes it to each connect() call, where
        // it overrides any localAddress inside `connect`.
        localAddress: c.localAddress,
        connect: {
          ca: caPem,
          cert: c.creds?.certPem,
          key: c.creds?.keyPem,
          // Same reason as axiosClient: every login is a full handshake.
          maxCachedSessions: 0,
        },
      });
      agents.push(dispatcher);
      const headers: Record<string, string | string[]> = { ...(c.headers ?? {}) };
      if (c.body !== undefined) headers['content-type'] = 'application/json';
      const res = await undiciRequest(c.url, {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        dispatcher,
      });
      const text = await res.body.text();
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') out[k.toLowerCase()] = v;
      return { status: res.statusCode, body: parseBody(text), headers: out };
    },
  };
}
