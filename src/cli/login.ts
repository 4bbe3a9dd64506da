import { readFileSync } from 'node:fs';
import { request } from 'node:https';

/** A minimal client for the direct mTLS listener; prints the token response as JSON. */
export async function loginCommand(values: { cert?: string; key?: string; cacert?: string; url?: string; identity?: string }): Promise<number> {
  if (!values.cert || !values.key) {
    process.stderr.write('certgate login: --cert FILE and --key FILE are required\n');
    return 2;
  }
  const url = new URL('/api/v1/auth/tls-cert-auth/login', values.url ?? 'https://127.0.0.1:8443');
  const body = JSON.stringify(values.identity ? { identityId: values.identity } : {});
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        cert: readFileSync(values.cert!),
        key: readFileSync(values.key!),
        ca: values.cacert ? readFileSync(values.cacert) : undefined,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  process.stdout.write(text + '\n');
  return status >= 200 && status < 300 ? 0 : 1;
}
