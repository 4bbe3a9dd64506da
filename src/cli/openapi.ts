import { loadConfigFile } from '../config/load.js';
import { buildOpenApiDocument } from '../http/api/openapi.js';

/**
 * `certgate openapi [--config FILE]`: the document `GET /openapi.json` serves for that config
 * (validated as serve would). Without a config, the gateway's built-in routes only, no servers.
 */
export function openApiCommand(values: { config?: string }): number {
  const file = values.config ?? process.env.CERTGATE_CONFIG;
  const config = file ? loadConfigFile(file) : undefined;
  const doc = buildOpenApiDocument(config ? { issuer: config.issuer, routes: config.routes } : { routes: [] });
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  return 0;
}
