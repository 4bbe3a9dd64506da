import { KeyRing } from '../token/keys.js';
import { configFrom } from './config-file.js';

export async function keysCommand(args: string[], values: { config?: string }): Promise<number> {
  const config = configFrom(values);
  if (args[0] === 'rotate') {
    const kid = await KeyRing.generate(config.keys.dir);
    process.stdout.write(`generated ${kid} in ${config.keys.dir}; it is published in the JWKS and signs after the next restart\n`);
    return 0;
  }
  if (args[0] !== undefined && args[0] !== 'list') {
    process.stderr.write('usage: certgate keys list|rotate [--config FILE]\n');
    return 2;
  }
  const ring = await KeyRing.open(config.keys.dir);
  ring.keys.forEach((k, i) => process.stdout.write(`${k.kid}  ${new Date(k.createdAt).toISOString()}${i === 0 ? '  (signing)' : ''}\n`));
  return 0;
}
