import { PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node';

/**
 * Per-call options that make a `patchNamespaced*` call send `application/merge-patch+json`.
 *
 * @kubernetes/client-node 1.x picks the first media type the OpenAPI spec lists for PATCH,
 * which is `application/json-patch+json`; a merge-patch body (`{"spec":{"suspend":true}}`) sent
 * under that type is rejected by the API server. The header middleware runs after the request
 * factory has set Content-Type, so it wins.
 */
export const mergePatchOptions: ConfigurationOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
