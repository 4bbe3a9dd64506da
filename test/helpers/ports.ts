import { connect, createServer } from 'node:net';

/**
 * A loopback port free right now (the kernel picks it). Another process could take it before the
 * caller binds; suites start their service immediately, which keeps that window tiny.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** 'connected', or the error code (ECONNREFUSED: nothing listens) of a TCP connect to a loopback port. */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
