import { MAX_DATA_CHECKPOINTS, type DataCheckpoint } from './data';

/**
 * Most characters of a log read: its newest ones. A log is resent whole, and growing, with every
 * update, and the newest lines hold the steps the jobs projection keeps (the highest ones).
 */
export const MAX_TRAINING_LOG_CHARS = 1_000_000;

/** Longest line read: a progress or metrics line is a few hundred characters; a longer one is not one. */
export const MAX_TRAINING_LOG_LINE_CHARS = 2_000;

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

/** A tqdm progress bar's counter, `| 120/1000 [`: the step the line reports. */
const PROGRESS_COUNTER = /\|\s*(\d{1,9})\/\d{1,9}\s*\[/;
/** The loss in a progress bar's postfix: ai-toolkit's `loss: 3.906e-01`, kohya's `avr_loss=0.0874`, tqdm's `loss=0.41`. */
const PROGRESS_LOSS = new RegExp(String.raw`(?:\bavr_loss|\bloss)\s*[:=]\s*(${NUMBER})(?![\w.])`);
/** A Python or JSON dict with a `loss` key: Hugging Face's Trainer (`{'loss': 1.23, 'learning_rate': …, 'epoch': 0.5}`). */
const DICT = /\{[^{}]*\}/g;
const DICT_LOSS = new RegExp(String.raw`['"]loss['"]\s*:\s*(${NUMBER})[,}\s]`);
const DICT_STEP = /['"](?:step|global_step)['"]\s*:\s*(\d{1,9})[,}\s]/;
/** A plain step line: `step 100/1000, loss: 0.39`, `Step: 100 | loss=0.39`, `step=100 loss 0.39`. */
const LINE_STEP = /\bstep\b\s*[:=]?\s*(\d{1,9})\b/i;
const LINE_LOSS = new RegExp(String.raw`\bloss\b\s*[:=]?\s*(${NUMBER})(?![\w.])`, 'i');

/**
 * The loss per step a trainer printed in its log, as canonical checkpoints, lowest step first.
 * Reads the formats trainers on Replicate print:
 * - a tqdm progress bar with a loss in its postfix, the step being its counter:
 *   ostris' ai-toolkit (the FLUX LoRA trainers) `flux_train:  12%|█▏  | 120/1000 [02:13<16:13,  1.11s/it, lr: 4.0e-04 loss: 3.906e-01]`,
 *   kohya's sd-scripts `steps:  10%|█  | 100/1000 [01:00<09:00,  1.66it/s, avr_loss=0.0874]`;
 * - a dict with a `loss` key, as Hugging Face's Trainer prints it (the language-model trainers):
 *   `{'loss': 1.2345, 'grad_norm': 0.51, 'learning_rate': 0.0002, 'epoch': 0.5}`, its step the
 *   dict's `step` (or `global_step`) where it has one, else the last progress counter printed
 *   before it; a dict with neither is skipped (an epoch is not a step);
 * - a plain line naming both: `step 100/1000, loss: 0.39`, `Step: 100 | loss=0.39`.
 * Lines are split at `\n` and at `\r` (a progress bar redraws itself with `\r`). Anything else
 * (other lines, `eval_loss`/`train_loss`, a loss that is not a finite number) is ignored. Bounded:
 * only the last {@link MAX_TRAINING_LOG_CHARS} characters are read (from the first whole line), lines over
 * {@link MAX_TRAINING_LOG_LINE_CHARS} are skipped, and at most {@link MAX_DATA_CHECKPOINTS}
 * steps are returned, the highest. A step printed twice keeps its last loss.
 */
export function parseTrainingLog(log: unknown): DataCheckpoint[] {
  if (typeof log !== 'string' || log === '') return [];
  // The tail's first line is cut (its start is outside the cap), so it is not read: a cut
  // `step 60123` would read as another step.
  // Stryker disable next-line StringLiteral: the cut line is replaced whole, and a text that names no step or loss reads as nothing either way
  const text = log.length > MAX_TRAINING_LOG_CHARS ? log.slice(log.length - MAX_TRAINING_LOG_CHARS).replace(/^[^\r\n]*/, '') : log;
  const losses = new Map<number, number>();
  let lastCounter: number | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.length > MAX_TRAINING_LOG_LINE_CHARS) continue;
    const counter = PROGRESS_COUNTER.exec(line);
    if (counter?.[1] !== undefined) lastCounter = Number(counter[1]);
    const point = readLine(line, counter === null ? undefined : lastCounter, lastCounter);
    if (point !== undefined) losses.set(point.step, point.loss);
  }
  return [...losses]
    .sort(([a], [b]) => a - b)
    .slice(-MAX_DATA_CHECKPOINTS)
    .map(([step, loss]) => ({ step, loss }));
}

function readLine(line: string, counter: number | undefined, lastCounter: number | undefined): { step: number; loss: number } | undefined {
  for (const [dict] of line.matchAll(DICT)) {
    const loss = DICT_LOSS.exec(dict)?.[1];
    if (loss === undefined) continue;
    const own = DICT_STEP.exec(dict)?.[1];
    return point(own === undefined ? lastCounter : Number(own), loss);
  }
  if (counter !== undefined) return point(counter, PROGRESS_LOSS.exec(line)?.[1]);
  const step = LINE_STEP.exec(line)?.[1];
  return step === undefined ? undefined : point(Number(step), LINE_LOSS.exec(line)?.[1]);
}

function point(step: number | undefined, loss: string | undefined): { step: number; loss: number } | undefined {
  if (step === undefined || loss === undefined || !Number.isSafeInteger(step)) return undefined;
  const value = Number(loss);
  return Number.isFinite(value) ? { step, loss: value } : undefined;
}
