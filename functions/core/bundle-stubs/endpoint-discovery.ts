/**
 * Stands in for `@aws-sdk/middleware-endpoint-discovery` in the receiver's bundle
 * (RECEIVER_BUNDLE_ALIASES in infra/constructs/bundled-function.ts). DynamoDB's client carries
 * endpoint discovery (an endpoint cache, with its LRU library) for the few accounts that need
 * discovered endpoints; it is off unless `AWS_ENABLE_ENDPOINT_DISCOVERY` turns it on, and the
 * receiver's DynamoDB calls go to the regional endpoint. Here it is always off.
 */

/** The configuration the client reads: never set. */
export const NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS = {
  environmentVariableSelector: (): undefined => undefined,
  configFileSelector: (): undefined => undefined,
  default: undefined,
};

/** The client's configuration with discovery off. */
export const resolveEndpointDiscoveryConfig = <T extends object>(input: T, options: { endpointDiscoveryCommandCtor?: unknown }) =>
  Object.assign(input, {
    endpointDiscoveryCommandCtor: options.endpointDiscoveryCommandCtor,
    endpointDiscoveryEnabled: () => Promise.resolve(false),
    isClientEndpointDiscoveryEnabled: false,
  });

const nothing = () => ({ applyToStack: () => undefined });
/** Plugins that add nothing: discovery is off. */
export const getEndpointDiscoveryPlugin = nothing;
export const getEndpointDiscoveryRequiredPlugin = nothing;
export const getEndpointDiscoveryOptionalPlugin = nothing;
