import { useState } from 'preact/hooks';
import { get, post, type EventSummary, type Info } from './api';
import { Command, Problem, Status, breakable, href, html, usePoll, when } from './ui';

interface Filters {
  provider: string;
  route: string;
  status: string;
  since: string;
  q: string;
}

const EMPTY: Filters = { provider: '', route: '', status: '', since: '24h', q: '' };

/** Newest first, live on the first page (a read a second), older pages by cursor. */
export function EventsPage({ info }: { info: Info }) {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // The cursors of the pages before this one, to go back; the last one is this page's.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const query = { ...filters, cursor };
  const list = usePoll(() => get<{ events: EventSummary[]; next?: string }>('/api/events', query), [JSON.stringify(query)], cursor === undefined ? 1000 : undefined);
  const counts = usePoll(() => get<{ counts: Record<string, number> }>('/api/counts', { ...filters, status: undefined, q: undefined }), [JSON.stringify(filters)], 5000);
  const field = (name: keyof Filters) => (event: Event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value });
  const apply = (event: Event) => {
    event.preventDefault();
    setFilters(draft);
    setCursors([]);
  };
  const option = (value: string) => html`<option value=${value}>${value}</option>`;
  const events = list.data?.events ?? [];

  return html`<section aria-labelledby="events-title">
    <h1 id="events-title">Events</h1>
    <p class="counts" aria-live="polite">
      ${info.statuses.map((status) => html`<span class="count"><${Status} status=${status} /> ${counts.data?.counts[status] ?? '…'}</span>`)}
      <span class="muted"> in the last ${filters.since}</span>
    </p>
    <form class="filters" onSubmit=${apply} role="search">
      <label>Provider <select value=${draft.provider} onChange=${field('provider')}><option value="">all</option>${info.providers.map((p) => option(p.name))}</select></label>
      <label>Route <select value=${draft.route} onChange=${field('route')}><option value="">all</option>${info.routes.map(option)}</select></label>
      <label>Status <select value=${draft.status} onChange=${field('status')}><option value="">all</option>${info.statuses.map(option)}</select></label>
      <label>Since <select value=${draft.since} onChange=${field('since')}>${['30m', '1h', '6h', '24h', '3d', '7d', '30d'].map(option)}</select></label>
      <label class="grow">Event id or subject <input type="search" value=${draft.q} onInput=${field('q')} placeholder="evt_… or ft-…" /></label>
      <button type="submit">Apply</button>
    </form>
    <${Problem} error=${list.error} />
    <div class="table-wrap">
      <table class="events">
        <thead><tr><th>Received</th><th>Key</th><th>Route</th><th>Status</th><th class="medium-hide">Attempts</th><th class="medium-hide">Replays</th><th class="narrow-hide">Subject</th><th class="narrow-hide">Last error</th></tr></thead>
        <tbody>
          ${events.map(
            (event) => html`<tr key=${event.pk}>
              <td>${when(event.receivedAt)}</td>
              <td><a class="key" href=${href('event', event.pk)}>${breakable(event.pk)}</a></td>
              <td>${breakable(event.route)}</td>
              <td><${Status} status=${event.status} /></td>
              <td class="medium-hide num">${event.attempts ?? 0}</td>
              <td class="medium-hide num">${event.replayCount ?? 0}</td>
              <td class="narrow-hide">${breakable(event.subject ?? '')}</td>
              <td class="narrow-hide error-text">${breakable(event.lastError ?? '')}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${!list.loading && events.length === 0 ? html`<p class="muted">No events match. Send one from <a href="#/send">Send a test event</a>.</p>` : null}
    <nav class="pager" aria-label="pages">
      <button type="button" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
      <span class="muted">${cursor === undefined ? 'live: newest first' : `page ${cursors.length + 1}`}</span>
      <button type="button" disabled=${list.data?.next === undefined} onClick=${() => list.data?.next && setCursors([...cursors, list.data.next])}>Older</button>
    </nav>
  </section>`;
}

interface EventDetail {
  record: Record<string, unknown> & { pk: string; status: string; event?: unknown; lastError?: string; attempts?: number; replayCount?: number };
  timeline: { label: string; at?: string; until?: string; error?: string }[];
  published?: { source: string; detailType: string; publishedAt: string; times: number };
  commands: { show: string; replay: string };
}

/** Record fields that hold the event's key or id: isolated, like every key the console shows. */
const ID_FIELDS = new Set(['pk', 'eventId']);

/** A record field as the page shows it: times (`…At`, ISO or epoch seconds) in the console's one format. */
function fieldValue(name: string, value: unknown) {
  if (name.endsWith('At') && (typeof value === 'string' || typeof value === 'number')) return when(value);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** One event: its normalized form, its timeline, and Replay. */
export function EventPage({ eventKey }: { eventKey: string }) {
  const detail = usePoll(() => get<EventDetail>('/api/event', { key: eventKey }), [eventKey], 2000);
  const [result, setResult] = useState<{ text?: string; error?: unknown }>({});
  const replay = async () => {
    setResult({});
    try {
      const { outcomes } = await post<{ outcomes: { text: string }[] }>('/api/replay', { keys: [eventKey] });
      setResult({ text: outcomes.map((outcome) => outcome.text).join('\n') });
      await detail.refresh();
    } catch (error) {
      setResult({ error });
    }
  };
  const data = detail.data;
  const { event, ...record } = data?.record ?? { pk: eventKey, status: '' };
  const pretty = JSON.stringify(event, null, 2);
  const copy = () => void navigator.clipboard.writeText(pretty).catch(() => undefined);
  const fields: [string, unknown][] = Object.entries(record).filter(([name]) => !['event', 'steps'].includes(name));

  return html`<section aria-labelledby="event-title">
    <p><a href="#/events">← Events</a></p>
    <h1 id="event-title" class="key">${breakable(eventKey)}</h1>
    <${Problem} error=${detail.error} />
    ${data === undefined
      ? null
      : html`
          <div class="actions">
            <button type="button" class="primary" onClick=${replay}>Replay</button>
            <${Command} text=${data.commands.replay} label="webhooks" />
          </div>
          ${result.text === undefined ? null : html`<p class="result" role="status">${result.text}</p>`}
          <${Problem} error=${result.error} />
          <h2>Timeline</h2>
          <ol class="timeline">
            ${data.timeline.map(
              (step) => html`<li><${Status} status=${step.label.split(' ')[0] ?? ''} /> <span class="label">${step.label}</span> ${step.at ? when(step.at) : null}
                ${step.until ? html`<span class="muted"> lease until ${when(step.until)}</span>` : null}
                ${step.error ? html`<div class="error-text">${step.error}</div>` : null}</li>`,
            )}
          </ol>
          <h2>Record</h2>
          <dl class="fields">${fields.map(([name, value]) => html`<dt>${name}</dt><dd class=${ID_FIELDS.has(name) ? 'id' : undefined}>${fieldValue(name, value)}</dd>`)}</dl>
          ${data.published === undefined
            ? null
            : html`<p class="muted">Event bus (local stand-in): ${data.published.source} / ${data.published.detailType} at ${when(data.published.publishedAt)}${data.published.times > 1 ? `, ${data.published.times} times` : ''}</p>`}
          <h2>Normalized event <button type="button" onClick=${copy}>Copy JSON</button></h2>
          <pre class="json" tabindex="0">${pretty}</pre>
        `}
  </section>`;
}
