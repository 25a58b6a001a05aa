import { useState } from 'preact/hooks';
import { get } from './api';
import { Command, Problem, Status, breakable, href, html, usePoll, when } from './ui';

interface JobSummary {
  pk: string;
  provider: string;
  subject: string;
  kind: string;
  state: string;
  step?: number;
  loss?: number;
  model?: string;
  output?: string;
  error?: string;
  updatedAt: string;
}

interface JobDetail extends JobSummary {
  evalLoss?: number;
  checkpoints: { step: number; loss?: number; at: string; eventId: string; path?: string }[];
  events: { at: string; key: string; type: string; state?: string; step?: number; loss?: number }[];
  checkpointPaths: string[];
  /** A Together batch's result files, once copied to S3. */
  results?: { output?: ResultFile; errors?: ResultFile; storedAt: string };
}

interface ResultFile {
  uri: string;
  lines: number;
  bytes: number;
}

const resultFile = (file: ResultFile) => `${file.uri} (${file.lines.toLocaleString('en-US')} ${file.lines === 1 ? 'line' : 'lines'}, ${file.bytes.toLocaleString('en-US')} bytes)`;

/** The one way the console writes a loss: three decimals, so that a column, the curve's ticks and its label read alike. */
const loss = (value: number | undefined) => (value === undefined ? '' : value.toFixed(3));

export function JobsPage() {
  const [kind, setKind] = useState('');
  const list = usePoll(() => get<{ jobs: JobSummary[] }>('/api/jobs', { kind, since: '30d' }), [kind], 5000);
  const jobs = list.data?.jobs ?? [];
  return html`<section aria-labelledby="jobs-title">
    <h1 id="jobs-title">Jobs</h1>
    <form class="filters" onSubmit=${(event: Event) => event.preventDefault()}>
      <label>Kind <select value=${kind} onChange=${(event: Event) => setKind((event.target as HTMLSelectElement).value)}>
        <option value="">all</option><option value="fine_tune">fine_tune</option><option value="batch">batch</option>
      </select></label>
    </form>
    <${Problem} error=${list.error} />
    <div class="table-wrap"><table>
      <thead><tr><th>Job</th><th>Kind</th><th>State</th><th class="num">Step</th><th class="num">Loss</th><th class="narrow-hide">Model or output</th><th class="narrow-hide">Error</th><th>Updated</th></tr></thead>
      <tbody>${jobs.map(
        (job) => html`<tr key=${job.pk}>
          <td><a class="key" href=${href('job', job.pk)}>${breakable(job.pk)}</a></td><td>${breakable(job.kind)}</td><td><${Status} status=${job.state} /></td>
          <td class="num">${job.step ?? ''}</td><td class="num">${loss(job.loss)}</td>
          <td class="narrow-hide">${breakable(job.model ?? job.output ?? '')}</td><td class="narrow-hide error-text">${breakable(job.error ?? '')}</td><td>${when(job.updatedAt)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${!list.loading && jobs.length === 0 ? html`<p class="muted">No job or batch was updated in the last 30 days.</p>` : null}
  </section>`;
}

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

/**
 * Loss over steps, drawn from the job's checkpoints (the highest 500), as SVG (no chart library needed
 * for one line); nothing without a point, as for a batch.
 */
export function LossCurve({ points }: { points: { step: number; loss: number }[] }) {
  if (points.length === 0) return null;
  const steps = points.map((point) => point.step);
  const losses = points.map((point) => point.loss);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const x = (step: number) => PAD.left + (x1 === x0 ? 0.5 : (step - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
  const y = (value: number) => PAD.top + (y1 === y0 ? 0.5 : (y1 - value) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
  const line = points.map((point) => `${x(point.step).toFixed(1)},${y(point.loss).toFixed(1)}`).join(' ');
  const bottom = HEIGHT - PAD.bottom;
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label=${`loss from ${loss(points[0]?.loss)} at step ${x0} to ${loss(points.at(-1)?.loss)} at step ${x1}`} class="loss-curve">
      <line x1=${PAD.left} y1=${bottom} x2=${WIDTH - PAD.right} y2=${bottom} class="axis" />
      <line x1=${PAD.left} y1=${PAD.top} x2=${PAD.left} y2=${bottom} class="axis" />
      <text x=${PAD.left - 6} y=${y(y1) + 4} class="tick" text-anchor="end">${loss(y1)}</text>
      <text x=${PAD.left - 6} y=${y(y0) + 4} class="tick" text-anchor="end">${loss(y0)}</text>
      <text x=${x(x0)} y=${bottom + 16} class="tick" text-anchor="start">${x0}</text>
      <text x=${x(x1)} y=${bottom + 16} class="tick" text-anchor="end">${x1}</text>
      <text x=${(PAD.left + WIDTH - PAD.right) / 2} y=${HEIGHT - 4} class="tick" text-anchor="middle">step</text>
      <polyline points=${line} class="curve" />
      ${points.map((point) => html`<circle cx=${x(point.step)} cy=${y(point.loss)} r="3" class="point"><title>${`step ${point.step}: loss ${loss(point.loss)}`}</title></circle>`)}
    </svg>
    <figcaption>Loss over steps, ${points.length} checkpoint${points.length === 1 ? '' : 's'}</figcaption>
  </figure>`;
}

export function JobPage({ jobKey }: { jobKey: string }) {
  const detail = usePoll(() => get<{ job: JobDetail; command: string }>('/api/job', { key: jobKey }), [jobKey], 5000);
  const job = detail.data?.job;
  const points = (job?.checkpoints ?? []).flatMap((checkpoint) => (checkpoint.loss === undefined ? [] : [{ step: checkpoint.step, loss: checkpoint.loss }]));
  return html`<section aria-labelledby="job-title">
    <p><a href="#/jobs">← Jobs</a></p>
    <h1 id="job-title" class="key">${breakable(jobKey)}</h1>
    <${Problem} error=${detail.error} />
    ${job === undefined
      ? null
      : html`
          <dl class="fields">
            <dt>kind</dt><dd>${job.kind}</dd><dt>state</dt><dd><${Status} status=${job.state} /></dd>
            <dt>step</dt><dd>${job.step ?? '—'}</dd><dt>loss</dt><dd>${loss(job.loss) || '—'}</dd>
            ${job.evalLoss === undefined ? null : html`<dt>eval loss</dt><dd>${loss(job.evalLoss)}</dd>`}
            ${job.model === undefined ? null : html`<dt>model</dt><dd>${job.model}</dd>`}
            ${job.output === undefined ? null : html`<dt>output</dt><dd>${job.output}</dd>`}
            ${job.error === undefined ? null : html`<dt>error</dt><dd class="error-text">${job.error}</dd>`}
            ${job.results?.output === undefined ? null : html`<dt>output file</dt><dd class="key">${resultFile(job.results.output)}</dd>`}
            ${job.results?.errors === undefined ? null : html`<dt>error file</dt><dd class="key">${resultFile(job.results.errors)}</dd>`}
            <dt>updated</dt><dd>${when(job.updatedAt)}</dd>
          </dl>
          ${points.length === 0 ? null : html`<h2>Loss curve</h2><${LossCurve} points=${points} />`}
          <${Command} text=${detail.data?.command ?? ''} label="webhooks" />
          <h2>Events, in order</h2>
          <div class="table-wrap"><table>
            <thead><tr><th>At</th><th>Event</th><th>Type</th><th>State</th><th class="num">Step</th><th class="num">Loss</th></tr></thead>
            <tbody>${job.events.map(
              (event) => html`<tr><td>${when(event.at)}</td><td><a class="key" href=${href('event', event.key)}>${breakable(event.key)}</a></td><td>${breakable(event.type)}</td>
                <td>${event.state === undefined ? '' : html`<${Status} status=${event.state} />`}</td><td class="num">${event.step ?? ''}</td><td class="num">${loss(event.loss)}</td></tr>`,
            )}</tbody>
          </table></div>
        `}
  </section>`;
}
