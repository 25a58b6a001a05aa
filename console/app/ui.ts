import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export { html };

/** A link inside the console: hash routes, each part encoded, so no value can become a URL of its own. */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

const two = (value: number) => String(value).padStart(2, '0');

/**
 * The one way the console writes a time: local date and time to the second, `2025-06-01 14:03:09`,
 * the same in every browser locale, so that times on one page read alike and sort as text.
 */
export function formatTime(date: Date): string {
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/**
 * A time as the operator reads it ({@link formatTime}), the ISO value on hover. Takes an ISO
 * string or epoch seconds, as records keep `expiresAt` and `leaseExpiresAt`.
 */
export function when(value: string | number | undefined) {
  if (value === undefined) return html`<span class="muted">—</span>`;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const iso = date.toISOString();
  // Date and time each in one piece: a narrow column wraps between them, never inside the date.
  const [day, clock] = formatTime(date).split(' ');
  return html`<time datetime=${iso} title=${iso}><span class="nowrap">${day}</span> <span class="nowrap">${clock}</span></time>`;
}

/** Where a line may wrap in an id, a type or a path: after these, never inside a word. */
const SEPARATOR = /(?<=[._#\-/])/;

/** `text` with a line-break opportunity (`<wbr>`) after each separator it has, for table cells that wrap only between words. */
export function breakable(text: string) {
  return text.split(SEPARATOR).map((part, index) => (index === 0 ? part : html`<wbr />${part}`));
}

export function ago(iso: string | undefined, nowMs = Date.now()): string {
  if (iso === undefined) return '—';
  const seconds = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function Status({ status }: { status: string }) {
  return html`<span class=${`status status-${status.replace(/[^a-z_]/g, '')}`}>${status}</span>`;
}

export function Problem({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return html`<p class="problem" role="alert">${error instanceof Error ? error.message : String(error)}</p>`;
}

/**
 * Loads `load()` now, whenever `deps` change, and every `everyMs` while the tab is visible (never
 * two at once): how lists stay live without a reload.
 */
export function usePoll<T>(load: () => Promise<T>, deps: readonly unknown[], everyMs?: number) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const busy = useRef(false);
  const refresh = async () => {
    if (busy.current) return;
    busy.current = true;
    const mine = generation.current;
    try {
      const data = await load();
      if (mine === generation.current) setState({ data, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, error, loading: false }));
    } finally {
      busy.current = false;
    }
  };
  useEffect(() => {
    generation.current += 1;
    busy.current = false;
    setState((previous) => ({ ...previous, loading: true }));
    void refresh();
    if (everyMs === undefined) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, everyMs);
    return () => clearInterval(timer);
  }, deps);
  return { ...state, refresh };
}

/** A command the operator can copy into a terminal. */
export function Command({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      (document.getElementById(`cmd-${label}`) as HTMLInputElement | null)?.select();
    }
  };
  return html`<div class="command">
    <input id=${`cmd-${label}`} readonly value=${text} aria-label=${`${label} command`} onFocus=${(event: FocusEvent) => (event.target as HTMLInputElement).select()} />
    <button type="button" onClick=${copy}>${copied ? 'Copied' : `Copy ${label} command`}</button>
  </div>`;
}
