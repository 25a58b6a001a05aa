import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export { html };

/** A link inside the console: hash routes, each part encoded, so no value can become a URL of its own. */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** A time as the operator reads it: local date and time to the second, the ISO value on hover. */
export function when(iso: string | undefined) {
  if (iso === undefined) return html`<span class="muted">—</span>`;
  const date = new Date(iso);
  return html`<time datetime=${iso} title=${iso}>${Number.isNaN(date.getTime()) ? iso : date.toLocaleString()}</time>`;
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
