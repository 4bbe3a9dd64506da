import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** The package root: dist/cli/ (compiled) or src/cli/ (tests) sit two levels below it. */
const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const DEFAULT_CONFIG = join(PACKAGE_ROOT, 'config', 'dev.yaml');
export const DEV_PKI_DIR = join(PACKAGE_ROOT, '.certgate-dev');
