import fs from 'node:fs';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { parse } from 'yaml';

/** Path of the OpenAPI document of the runtime-risk API. */
export const OPENAPI_SPEC_PATH = resolvePackagePath('@runtime-risk/backstage-plugin-runtime-risk-backend', 'src/schema/openapi.yaml');

/** An OpenAPI 3.1 document, as far as the router needs to know. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
  [key: string]: unknown;
}

let cached: OpenApiDocument | undefined;

/** The OpenAPI document the router validates requests against (read once). */
export function loadOpenApiSpec(): OpenApiDocument {
  if (!cached) {
    const doc = parse(fs.readFileSync(OPENAPI_SPEC_PATH, 'utf8')) as OpenApiDocument;
    if (!doc || typeof doc !== 'object' || !doc.paths || !doc.components) {
      throw new Error(`${OPENAPI_SPEC_PATH} is not an OpenAPI document`);
    }
    cached = doc;
  }
  return cached;
}
