import { JOB_STATES, type JobItem, type JobState } from '../functions/core/table';

export const JOB_KINDS = ['fine_tune', 'batch'] as const satisfies readonly JobItem['kind'][];
export const JOB_STATE_NAMES = Object.keys(JOB_STATES) as JobState[];

/** Default window of `jobs list`: jobs run for hours or days, so a week rather than a day. */
export const DEFAULT_JOBS_SINCE = '7d';
