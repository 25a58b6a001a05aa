import { describe, expect, it } from 'vitest';
import { MAX_DATA_CHECKPOINTS } from '../../functions/core/data';
import { MAX_TRAINING_LOG_CHARS, parseTrainingLog } from '../../functions/core/training-log';

/*
 * Log lines as the trainers on Replicate print them: ostris' ai-toolkit (FLUX LoRA trainers) and
 * kohya's sd-scripts through tqdm, whose bar redraws itself with `\r`; Hugging Face's Trainer
 * through its `{'loss': …}` dicts. The expected points are written out, never computed by the parser.
 */

describe('parseTrainingLog', () => {
  it('[P-REP] reads ai-toolkit progress bars redrawn with \\r: the bar counter is the step, the postfix loss its loss', () => {
    const log = [
      'Loading checkpoint shards: 100%|██████████| 2/2 [00:04<00:00,  2.10s/it]',
      'flux_train_replicate:   1%|          | 10/1000 [00:11<18:15,  1.11s/it, lr: 4.0e-04 loss: 6.056e-01]\r' +
        'flux_train_replicate:   2%|▏         | 20/1000 [00:22<18:04,  1.11s/it, lr: 4.0e-04 loss: 5.812e-01]\r' +
        'flux_train_replicate:   3%|▎         | 30/1000 [00:33<17:53,  1.11s/it, lr: 4.0e-04 loss: 3.906e-01]',
      'Saved to output/flux_train_replicate/flux_train_replicate.safetensors',
    ].join('\n');

    expect(parseTrainingLog(log)).toEqual([
      { step: 10, loss: 0.6056 },
      { step: 20, loss: 0.5812 },
      { step: 30, loss: 0.3906 },
    ]);
  });

  it("[P-REP] reads kohya sd-scripts bars: avr_loss= in the postfix", () => {
    const log = 'steps:  10%|█         | 100/1000 [01:00<09:00,  1.66it/s, avr_loss=0.0874]\rsteps:  20%|██        | 200/1000 [02:00<08:00,  1.66it/s, avr_loss=0.0712]\n';

    expect(parseTrainingLog(log)).toEqual([
      { step: 100, loss: 0.0874 },
      { step: 200, loss: 0.0712 },
    ]);
  });

  it("[P-REP] reads Hugging Face Trainer dicts, each at the last progress counter printed before it, and ignores eval_loss and train_loss", () => {
    const log = [
      "  5%|▌         | 50/1000 [00:30<09:30,  1.66it/s]",
      "{'loss': 2.41, 'grad_norm': 0.83, 'learning_rate': 0.00019, 'epoch': 0.3}",
      " 10%|█         | 100/1000 [01:00<09:00,  1.66it/s]",
      "{'loss': 1.62, 'grad_norm': 0.61, 'learning_rate': 0.00016, 'epoch': 0.6}",
      "{'eval_loss': 1.7, 'eval_runtime': 3.1, 'epoch': 0.6}",
      "{'train_runtime': 600.2, 'train_loss': 1.9, 'epoch': 1.0}",
    ].join('\n');

    expect(parseTrainingLog(log)).toEqual([
      { step: 50, loss: 2.41 },
      { step: 100, loss: 1.62 },
    ]);
  });

  it('[P-REP] takes a dict\'s own step (or global_step) over the counter, and skips a dict with neither', () => {
    const log = [
      "{'loss': 3.1, 'learning_rate': 0.0002, 'epoch': 0.1}",
      '{"loss": 1.25, "step": 40, "epoch": 0.4}',
      "{'loss': 1.05, 'global_step': 80, 'epoch': 0.8}",
    ].join('\n');

    expect(parseTrainingLog(log)).toEqual([
      { step: 40, loss: 1.25 },
      { step: 80, loss: 1.05 },
    ]);
  });

  it('[P-REP] reads plain step lines: "step N/T, loss: X", "Step: N | loss=X"', () => {
    const log = 'step 100/1000, loss: 0.39\nStep: 200 | loss=0.31\nstep=300 loss 2.5e-1\n';

    expect(parseTrainingLog(log)).toEqual([
      { step: 100, loss: 0.39 },
      { step: 200, loss: 0.31 },
      { step: 300, loss: 0.25 },
    ]);
  });

  it('[P-REP] keeps the last loss of a step printed twice, and returns steps in order whatever order they came in', () => {
    const log = 'step 20 loss 0.5\nstep 10 loss 0.9\nstep 20 loss 0.45\n';

    expect(parseTrainingLog(log)).toEqual([
      { step: 10, loss: 0.9 },
      { step: 20, loss: 0.45 },
    ]);
  });

  it('[P-REP] ignores junk: other lines, non-numbers, nan and inf, a step without a loss, bars without one, and a log that is not text', () => {
    const log = [
      'Downloading weights… done',
      'step 10 loss: nan',
      'step 20 loss: inf',
      'step 30 loss: low',
      'step 40',
      ' 50%|█████     | 2/4 [00:00<00:00,  7.61it/s]',
      'loss: 0.4 (no step)',
      "{'loss': 'n/a', 'step': 5}",
      '2026-11-01 12:00:00 loss function: mse',
      'step 1.5e3x loss 0.2x',
    ].join('\n');

    expect(parseTrainingLog(log)).toEqual([]);
    expect([parseTrainingLog(undefined), parseTrainingLog(null), parseTrainingLog(42), parseTrainingLog({ loss: 1 }), parseTrainingLog('')]).toEqual([[], [], [], [], []]);
  });

  it(`[P-REP] reads a huge log bounded: the last ${MAX_TRAINING_LOG_CHARS} characters, no line over the limit, the highest ${MAX_DATA_CHECKPOINTS} steps`, () => {
    const line = (step: number) => `step ${step} loss ${(1 / step).toFixed(6)}`;
    const steps = Array.from({ length: 100_000 }, (_, index) => index + 1);
    // 100,000 steps of about 25 characters, plus one giant line: 3.5 MB in all.
    const log = `${'x'.repeat(1_000_000)} step 1 loss 9\n${steps.map(line).join('\n')}\n${'step 7 loss 7 '.repeat(200)}\n`;

    const points = parseTrainingLog(log);

    expect(log.length).toBeGreaterThan(3 * MAX_TRAINING_LOG_CHARS);
    expect(points).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect(points[0]).toEqual({ step: 100_000 - MAX_DATA_CHECKPOINTS + 1, loss: Number((1 / (100_000 - MAX_DATA_CHECKPOINTS + 1)).toFixed(6)) });
    expect(points.at(-1)).toEqual({ step: 100_000, loss: 0.00001 });
    // The giant line (over the line limit) was skipped: step 7 kept no loss of 7.
    expect(points.some((point) => point.loss === 7)).toBe(false);
  });

  it('[P-REP] reads only the tail of a log longer than the cap: a step printed only before it is not read', () => {
    const head = 'step 1 loss 0.99\n';
    const log = `${head}${'.'.repeat(MAX_TRAINING_LOG_CHARS)}\nstep 2 loss 0.5\n`;

    expect(parseTrainingLog(log)).toEqual([{ step: 2, loss: 0.5 }]);
  });

  it('[RULE] of a log longer than the cap, the line the tail starts inside is not read, whatever of it falls inside the tail', () => {
    // The tail starts at "-step 7…": read from there, that cut line would be taken for step 7.
    const tailStart = '-step 7, loss: 0.5\n';
    const lastLine = 'step 9, loss: 0.1';
    const filler = `${'x'.repeat(999)}\n`;
    const fillerLines = Math.floor((MAX_TRAINING_LOG_CHARS - tailStart.length - lastLine.length) / filler.length);
    const padding = '.'.repeat(MAX_TRAINING_LOG_CHARS - tailStart.length - lastLine.length - fillerLines * filler.length);
    const tail = `${tailStart}${filler.repeat(fillerLines)}${padding}${lastLine}`;
    const log = `step 1, loss: 0.9\nstep 3, loss: 0.8 ${tail}`;

    expect(tail).toHaveLength(MAX_TRAINING_LOG_CHARS);
    expect(parseTrainingLog(log)).toEqual([{ step: 9, loss: 0.1 }]);
  });

  it("[RULE] a dict without a loss on a line does not hide the Trainer dict after it", () => {
    const log = "{'epoch': 0.5} {'loss': 1.2, 'step': 10, 'epoch': 0.5}";

    expect(parseTrainingLog(log)).toEqual([{ step: 10, loss: 1.2 }]);
  });
});
