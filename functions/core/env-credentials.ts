import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (an esbuild alias in
 * infra/constructs/bundled-function.ts). Lambda hands a function its role's credentials as
 * environment variables, so the default chain's other links (SSO, STS web identity, profiles,
 * the instance metadata service) are never reached there, yet they cost about 60 KB of nested
 * clients to load at every cold start. Same name and signature as the module it replaces.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
