import { IDENTITY_ID } from '../config/schema.js';
import { storeFromConfig } from '../store/from-config.js';
import { configFrom } from './config-file.js';

export async function tokensCommand(args: string[], values: { config?: string }): Promise<number> {
  const [sub, id] = args;
  if (sub !== 'revoke-identity' || !id) {
    process.stderr.write('usage: certgate tokens revoke-identity ID [--config FILE]\n');
    return 2;
  }
  const config = configFrom(values);
  if (!IDENTITY_ID.test(id)) {
    process.stderr.write(`certgate: "${id}" is not an identity id ([a-z0-9._-]{1,128})\n`);
    return 2;
  }
  if (config.store.url === 'memory') {
    process.stderr.write('certgate: the in-memory store lives inside the running gateway; use POST /api/v1/admin/identities/ID/revoke-tokens\n');
    return 1;
  }
  const store = storeFromConfig(config);
  try {
    const at = Date.now();
    await store.revokeIdentity(id, at);
    process.stdout.write(`revoked every token of "${id}" issued until ${new Date(at).toISOString()}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
