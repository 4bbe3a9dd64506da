// One-shot init for docker-compose.yml: a development PKI in DIR (default /pki), generated once and
// kept in the "pki" volume. It reuses certgate's own dev-PKI generator (the one `npm start` uses):
// ca.pem, server.pem + server-key.pem (localhost, 127.0.0.1, ::1) for nginx, and client.pem +
// client-key.pem (CN=dev) for the "dev" identity. Not for production.
import { ensureDevPki } from '/app/dist/cli/dev-pki.js';

const dir = process.argv[2] ?? '/pki';
const created = await ensureDevPki(dir);
console.log(created ? `generated a development PKI in ${dir}` : `keeping the existing PKI in ${dir}`);
