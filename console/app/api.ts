// Every call to the console's own API carries the per-start token of the page's meta tag.
const token = document.querySelector<HTMLMetaElement>('meta[name="console-token"]')?.content ?? '';

/** A failed call: the server's message, which says what to do. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, { ...init, headers: { 'x-console-token': token, ...(init.headers ?? {}) }, credentials: 'same-origin' });
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(response.status, body.error ?? `HTTP ${response.status}`);
  return body as T;
}

export function get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const params = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
  const text = params.toString();
  return call<T>(text === '' ? path : `${path}?${text}`);
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface Info {
  target: string;
  kind: 'local' | 'aws';
  providers: { name: string; types: string[] }[];
  routes: string[];
  statuses: string[];
  rejections: boolean;
}

/** A record as the lists show it: the data model's summary type, erased from the bundle. */
export type { EventSummary } from '../../functions/core/table';
