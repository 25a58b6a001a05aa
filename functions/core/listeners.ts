/*
 * Listener queues: a developer's own copy of every event put on the bus, kept on a queue while
 * their laptop sleeps and forwarded to a local endpoint by `webhooks listen`. The stack creates them
 * (infra/constructs/listeners.ts), `npm start` creates one (local/resources.ts), and the command
 * reads them (ops/listen.ts): the settings and names live here, below all three.
 */

/** A listener's name: lowercase letters and digits, starting with a letter, at most 20 characters. */
export const LISTENER_NAME = /^[a-z][a-z0-9]{0,19}$/;

/** The one listener of `npm start`. */
export const LOCAL_LISTENER = 'local';

/**
 * The signing secret of the local listener: a documented development value, as the providers'
 * development secrets are (`webhooks listen --print-secret` shows it). Never used in AWS, where
 * each listener gets a generated one.
 */
export const LOCAL_LISTENER_SECRET = 'whsec_bG9jYWwtbGlzdGVuZXItc2VjcmV0LTMyLWJ5dGVzISE=';

/** Queue settings of every listener queue, in AWS and locally alike. */
export const LISTENER_QUEUE_SETTINGS = {
  /** Forward attempts before SQS moves a message to the listener's dead-letter queue. */
  maxReceiveCount: 5,
  /** How long an event waits for the listener: SQS's default of 4 days. */
  retentionSeconds: 4 * 24 * 3600,
  /** A dead letter is kept the SQS maximum (its age counts from the first enqueue). */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
  /** Long enough for one forward (the endpoint's timeout) before another receive could take it. */
  visibilityTimeoutSeconds: 60,
  /** The long poll of each receive: SQS's longest, 3 receives a minute while idle. */
  waitTimeSeconds: 20,
} as const;

/** The secret's value in AWS: 32 characters of [A-Za-z0-9], read as base64 (24 bytes). */
export const LISTENER_SECRET_CHARACTERS = 32;

/** Throws a clear error unless `name` is a valid listener name; returns it. */
export function checkListenerName(name: string, where = 'listeners'): string {
  if (!LISTENER_NAME.test(name)) {
    throw new Error(`${where}: "${name}" is not a listener name: use 1 to 20 lowercase letters and digits, starting with a letter (e.g. alice)`);
  }
  return name;
}

/** `alice` → `Alice`, for output names and construct ids. */
export function listenerPascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * The Standard Webhooks form of a listener's stored secret: the value itself when it has the
 * `whsec_` prefix, else `whsec_` + the value (the stack stores the generated base64 key alone).
 */
export function listenerSigningSecret(stored: string): string {
  const value = stored.trim();
  return value.startsWith('whsec_') ? value : `whsec_${value}`;
}
