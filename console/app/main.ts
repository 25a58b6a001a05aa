// The console's single page: hash routes, each view a Preact component fed by the console's JSON
// API. Preact + htm: a 5 KB renderer that puts every value into the page as text (no HTML string
// is ever parsed), templates without a compile step, bundled by esbuild at start.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, type Info } from './api';
import { EventPage, EventsPage } from './events';
import { JobPage, JobsPage } from './jobs';
import { DeadLettersPage, RejectedPage, SendPage } from './operations';
import { Problem, html, usePoll } from './ui';

/**
 * The view and key of the hash. A hash that does not decode (`#/event/%E0`, a link cut or typed by
 * hand) is the events view: decodeURIComponent would throw and blank the page.
 */
function parseRoute(hash: string): string[] {
  try {
    return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return [];
  }
}

function useRoute(): string[] {
  const parse = () => parseRoute(window.location.hash);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = () => {
      setRoute(parse());
      document.getElementById('main')?.focus();
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const NAV = [
  ['events', 'Events'],
  ['dlq', 'Dead letters'],
  ['jobs', 'Jobs'],
  ['rejected', 'Rejected'],
  ['send', 'Send a test event'],
] as const;

function App() {
  const info = usePoll(() => get<Info>('/api/info'), []);
  const [view = 'events', key = ''] = useRoute();
  const section = view === 'event' ? 'events' : view === 'job' ? 'jobs' : view;
  const page = () => {
    const data = info.data;
    if (data === undefined) return html`<${Problem} error=${info.error} />`;
    switch (view) {
      case 'event':
        return html`<${EventPage} eventKey=${key} />`;
      case 'dlq':
        return html`<${DeadLettersPage} />`;
      case 'jobs':
        return html`<${JobsPage} />`;
      case 'job':
        return html`<${JobPage} jobKey=${key} />`;
      case 'rejected':
        return html`<${RejectedPage} info=${data} />`;
      case 'send':
        return html`<${SendPage} info=${data} />`;
      default:
        return html`<${EventsPage} info=${data} />`;
    }
  };
  return html`
    <a class="skip" href="#main" onClick=${(event: Event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header>
      <strong class="brand">webhooks</strong>
      <nav aria-label="views">
        ${NAV.map(([id, label]) => html`<a href=${`#/${id}`} aria-current=${section === id ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <span class="target muted">${info.data?.target ?? ''}</span>
    </header>
    <main id="main" tabindex="-1">${page()}</main>
  `;
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
