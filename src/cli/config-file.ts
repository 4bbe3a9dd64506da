import { loadConfigFile, type Config } from '../config/load.js';
import { DEFAULT_CONFIG } from './paths.js';

export function configFrom(values: { config?: string }): Config {
  return loadConfigFile(values.config ?? process.env.CERTGATE_CONFIG ?? DEFAULT_CONFIG);
}
