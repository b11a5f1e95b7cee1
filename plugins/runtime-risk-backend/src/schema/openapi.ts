import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { runtimeRiskOpenApiSpec as spec } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/**
 * Path of the OpenAPI document's source (src/schema/openapi.yaml). It is not in the
 * published tarball and is never read at run time: the router uses `spec`, the
 * document -common generates from it (`npm run openapi:generate`), one copy for all.
 */
export const OPENAPI_SPEC_PATH = resolvePackagePath('@runtime-risk/backstage-plugin-runtime-risk-backend', 'src/schema/openapi.yaml');

/** The OpenAPI document, as a typed literal (generated from openapi.yaml). */
export { spec };

/** An OpenAPI 3.1 document, as far as the router needs to know. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
  [key: string]: unknown;
}

/** The OpenAPI document the router validates requests against (compiled in, no file read). */
export function loadOpenApiSpec(): OpenApiDocument {
  return spec as unknown as OpenApiDocument;
}
