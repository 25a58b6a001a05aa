import { useState } from 'preact/hooks';
import { get, post, type Info } from './api';
import { Command, Problem, ago, breakable, formatTime, href, html, usePoll, when } from './ui';

interface DeadLetterRoute {
  route: string;
  depth: { visible: number; inFlight: number };
  peek: { messageId: string; key?: string; type?: string; sentAt?: string; receiveCount?: number }[];
  oldestSeenAt?: string;
}

/** Per route: depth, age of the oldest peeked, a peek on request, Redrive one or all with confirmation. */
export function DeadLettersPage() {
  // Depths refresh often; a peek is a receive (it raises receive counts), so only on request.
  const [peek, setPeek] = useState(0);
  const list = usePoll(() => get<{ routes: DeadLetterRoute[]; redriveCommand: string }>('/api/dlq', { peek: String(peek) }), [peek], 3000);
  const [confirming, setConfirming] = useState<string | undefined>();
  const [result, setResult] = useState<{ text?: string; error?: unknown }>({});
  const routes = list.data?.routes ?? [];
  const total = routes.reduce((sum, route) => sum + route.depth.visible + route.depth.inFlight, 0);
  const redrive = async (target: string) => {
    setConfirming(undefined);
    setResult({});
    try {
      const body = target === '*' ? { all: true } : { route: target };
      const { moved, results } = await post<{ moved: number; results: { route: string; status?: string }[] }>('/api/redrive', body);
      const started = results.some((entry) => entry.status === 'RUNNING');
      setResult({ text: started ? `move task started for ${results.map((entry) => entry.route).join(', ')}` : `moved ${moved} dead letter${moved === 1 ? '' : 's'} back to their queues` });
      await list.refresh();
    } catch (error) {
      setResult({ error });
    }
  };
  const confirmBox = (target: string) =>
    confirming !== target
      ? null
      : html`<div class="confirm" role="alertdialog" aria-label="confirm redrive">
          <span>Move ${target === '*' ? 'every route’s' : `${target}’s`} dead letters back to their queue${target === '*' ? 's' : ''}? Their consumers run them again.</span>
          <button type="button" class="primary" onClick=${() => redrive(target)}>Yes, redrive</button>
          <button type="button" onClick=${() => setConfirming(undefined)}>Cancel</button>
        </div>`;

  return html`<section aria-labelledby="dlq-title">
    <h1 id="dlq-title">Dead letters</h1>
    <p aria-live="polite"><strong class="total">${total}</strong> dead letter${total === 1 ? '' : 's'} in all.</p>
    <div class="actions">
      <button type="button" disabled=${total === 0} onClick=${() => setConfirming('*')}>Redrive all</button>
      <button type="button" onClick=${() => setPeek(peek === 0 ? 10 : 0)}>${peek === 0 ? 'Peek at messages' : 'Stop peeking'}</button>
      ${list.data === undefined ? null : html`<${Command} text=${list.data.redriveCommand} label="webhooks" />`}
    </div>
    ${confirmBox('*')}
    ${result.text === undefined ? null : html`<p class="result" role="status">${result.text}</p>`}
    <${Problem} error=${result.error ?? list.error} />
    <div class="table-wrap"><table class="dlq">
      <thead><tr><th>Route</th><th class="num">Waiting</th><th class="num">In flight</th><th>Oldest seen</th><th></th></tr></thead>
      <tbody>${routes.map(
        (route) => html`<tr key=${route.route} data-route=${route.route} class=${route.depth.visible + route.depth.inFlight > 0 ? 'has-dead-letters' : undefined}>
          <td>${breakable(route.route)}</td><td class="num depth">${route.depth.visible}</td><td class="num">${route.depth.inFlight}</td>
          <td>${route.oldestSeenAt === undefined ? html`<span class="muted">${peek === 0 && route.depth.visible > 0 ? 'peek to see' : '—'}</span>` : html`<span title=${formatTime(new Date(route.oldestSeenAt))}>${ago(route.oldestSeenAt)} ago</span>`}</td>
          <td><button type="button" disabled=${route.depth.visible + route.depth.inFlight === 0} onClick=${() => setConfirming(route.route)}>Redrive</button></td>
        </tr>
        ${confirming === route.route ? html`<tr><td colspan="5">${confirmBox(route.route)}</td></tr>` : null}
        ${route.peek.map(
          (letter) => html`<tr class="peek"><td colspan="5"><span class="muted id">${letter.messageId}</span> ${letter.key ? html`<a class="key" href=${href('event', letter.key)}>${breakable(letter.key)}</a>` : ''} ${breakable(letter.type ?? '')} sent ${when(letter.sentAt)} · received ${letter.receiveCount ?? '?'}×</td></tr>`,
        )}`,
      )}</tbody>
    </table></div>
  </section>`;
}

interface Rejection {
  at: string;
  provider: string;
  /** The path posted to: what the rejected view shows for a provider no path names (`unknown`). */
  path: string;
  status: number;
  reason: string;
  detail: string;
}

/** A refusal's provider, or for a path no enabled provider serves, the path the sender tried. */
const provider = (row: Rejection) =>
  row.provider === 'unknown' ? html`<span class="key" title="no enabled provider at this path">${breakable(row.path)}</span>` : row.provider;

/** The last refused deliveries of the local runtime: why a sender's signature did not verify. */
export function RejectedPage({ info }: { info: Info }) {
  const list = usePoll(() => (info.rejections ? get<{ rejections: Rejection[] }>('/api/rejections') : Promise.resolve({ rejections: [] })), [], 2000);
  const rows = list.data?.rejections ?? [];
  return html`<section aria-labelledby="rejected-title">
    <h1 id="rejected-title">Rejected deliveries</h1>
    ${info.rejections
      ? html`<p class="muted">The last 200 deliveries the receiver refused, newest first: provider (or the path tried, when no provider serves it), status and reason; never the secret or the body.</p>`
      : html`<p class="muted">A stack logs refused deliveries in CloudWatch ("delivery rejected"); the local runtime keeps the last 200 here.</p>`}
    <${Problem} error=${list.error} />
    <div class="table-wrap"><table>
      <thead><tr><th>At</th><th>Provider</th><th class="num">Status</th><th>Reason</th><th class="narrow-hide">Detail</th></tr></thead>
      <tbody>${rows.map((row) => html`<tr><td>${when(row.at)}</td><td>${provider(row)}</td><td class="num">${row.status}</td><td>${breakable(row.reason)}</td><td class="narrow-hide">${breakable(row.detail)}</td></tr>`)}</tbody>
    </table></div>
    ${info.rejections && !list.loading && rows.length === 0 ? html`<p class="muted">Nothing refused since the start.</p>` : null}
  </section>`;
}

/** Provider + type → a signed sample through the real endpoint. */
export function SendPage({ info }: { info: Info }) {
  const [provider, setProvider] = useState(info.providers[0]?.name ?? '');
  const types = info.providers.find((entry) => entry.name === provider)?.types ?? [];
  const [type, setType] = useState(types[0] ?? '');
  const [result, setResult] = useState<{ data?: { url: string; id?: string; status?: number; outcome?: string }; error?: unknown; busy?: boolean }>({});
  const send = async (event: Event) => {
    event.preventDefault();
    setResult({ busy: true });
    try {
      setResult({ data: await post('/api/send', { provider, type: types.includes(type) ? type : types[0] }) });
    } catch (error) {
      setResult({ error });
    }
  };
  return html`<section aria-labelledby="send-title">
    <h1 id="send-title">Send a test event</h1>
    <p class="muted">A sample delivery, signed as the provider signs it, POSTed to the receiver's real endpoint.</p>
    <form class="filters" onSubmit=${send}>
      <label>Provider <select value=${provider} onChange=${(e: Event) => {
        const next = (e.target as HTMLSelectElement).value;
        setProvider(next);
        setType(info.providers.find((entry) => entry.name === next)?.types[0] ?? '');
      }}>${info.providers.map((entry) => html`<option value=${entry.name}>${entry.name}</option>`)}</select></label>
      <label>Type <select value=${type} onChange=${(e: Event) => setType((e.target as HTMLSelectElement).value)}>${types.map((name) => html`<option value=${name}>${name}</option>`)}</select></label>
      <button type="submit" class="primary" disabled=${result.busy === true}>Send</button>
    </form>
    <${Problem} error=${result.error} />
    ${result.data === undefined
      ? null
      : html`<p class="result" role="status">${result.data.status === 0 ? 'no answer' : `HTTP ${result.data.status}`}: ${result.data.outcome} (id ${result.data.id}, to ${result.data.url})
          ${result.data.outcome === 'accepted' ? html` · <a href="#/events">see it in Events</a>` : null}</p>`}
  </section>`;
}
