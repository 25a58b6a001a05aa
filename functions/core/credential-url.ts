/**
 * Where a request that carries a credential (an API key, a signing secret) may go: over https, or
 * over plain http to this machine only, for a local stand-in of the API. The poller, the batch
 * copy and `webhooks register` all send the Together API key, and all hold their URLs to this.
 */

/** The rule as error messages state it. */
export const CREDENTIAL_URL_RULE = 'https:// (plain http only to 127.0.0.0/8, [::1] or localhost)';

/** 127.0.0.0/8, [::1] and localhost; the URL parser has already normalized forms like `127.1`. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether a request to `url` may carry a credential: https anywhere, plain http to loopback only. */
export function mayCarryCredentials(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/**
 * Why `url`, read from `name`, may not carry a credential, or undefined when it may. The message
 * names the variable (or option), the rule and the value given.
 */
export function credentialUrlProblem(url: URL, name: string, given: string = url.href): string | undefined {
  return mayCarryCredentials(url) ? undefined : `${name} must be ${CREDENTIAL_URL_RULE}; got "${given}"`;
}
