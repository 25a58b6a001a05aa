import type { IncomingMessage } from 'node:http';

/**
 * The names a request to a local listener may give in its `Host`, with any port or none; also any
 * name under `.localhost`, which resolves to loopback only (RFC 6761) and is the host of the SQS
 * emulator's queue URLs (`sqs.us-east-1.localhost`). A browser cannot forge `Host`, and a
 * DNS-rebinding page names its own domain (`webhook-batch-results.attacker.example`, which the S3
 * emulator would read as a bucket): refused.
 */
export const LOOPBACK_HOST_NAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Why a request does not name this machine in its `Host`, or undefined when it does. */
export function hostRefusal(request: IncomingMessage): string | undefined {
  const host = request.headers.host ?? '';
  const hostname = host.replace(/:\d{1,5}$/, '').toLowerCase();
  if (LOOPBACK_HOST_NAMES.has(hostname) || /^([a-z0-9-]+\.)+localhost$/.test(hostname)) return undefined;
  return `this local server answers only at 127.0.0.1, localhost (or a name under it) or [::1], not at "${host.slice(0, 80)}"`;
}
