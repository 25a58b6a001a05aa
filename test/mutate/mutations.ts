/**
 * The mutations `npm run mutate:smoke` applies, one at a time. Each is a single realistic mistake (an
 * operator, a constant, a map entry) that the named test files must catch. Snippets are kept
 * short so that they survive refactoring around them; when one no longer matches exactly once,
 * the run reports it as not applicable and it needs refreshing here. Mutations must stay valid
 * TypeScript syntax: the tests run through esbuild, which strips types without checking them.
 */
export interface Mutation {
  /** Unique, kebab-case: `--only` takes it. */
  readonly name: string;
  /** Relative to the project root. */
  readonly file: string;
  /** Exact text that must occur once in the file. */
  readonly find: string;
  readonly replace: string;
  /** Test files to run, fastest and likeliest killer first; the first failure stops the run. */
  readonly tests: readonly string[];
  /** The bug this stands for. */
  readonly why: string;
}

const VERIFY = 'functions/core/verify.ts';
const NORMALIZE = 'functions/core/normalize.ts';
const ACCEPT = 'functions/core/accept.ts';
const LEDGER = 'functions/consumers/ledger.ts';
const JOBS = 'functions/consumers/routes/jobs.ts';
const JOB_HISTORY = 'functions/consumers/routes/job-history.ts';
const OBSERVE = 'functions/poller/observe.ts';
const POLL = 'functions/poller/poll.ts';
const QUEUES = 'functions/core/queues.ts';

const verifyTests = ['test/unit/verify.test.ts', 'test/unit/input-edges.test.ts', 'test/reliability/bad-input.test.ts', 'test/reliability/properties.test.ts'];
const normalizeTests = ['test/unit/normalize.test.ts', 'test/unit/input-edges.test.ts', 'test/unit/contract-routes.test.ts', 'test/reliability/bad-input.test.ts'];
const providerTests = ['test/unit/contract-routes.test.ts', 'test/unit/normalize.test.ts', 'test/integration/receiver.test.ts'];
const acceptTests = ['test/integration/receiver.test.ts', 'test/reliability/faults.test.ts', 'test/reliability/record-lifetime.test.ts'];
const ledgerTests = ['test/integration/ledger-lease.test.ts', 'test/integration/consumers.test.ts', 'test/reliability/consumer-faults.test.ts'];
const jobsTests = ['test/unit/consumers.test.ts', 'test/integration/consumers.test.ts', 'test/integration/consumers-projection.test.ts'];
const pollerStateTests = ['test/integration/poller-state.test.ts', 'test/integration/poller.test.ts'];
const pollerTests = ['test/unit/poller-observe.test.ts', 'test/unit/poller-run.test.ts', 'test/unit/poller-robustness.test.ts', 'test/integration/poller.test.ts'];
const infraTests = ['test/infra/contract-values.test.ts', 'test/infra/stack.test.ts', 'test/infra/lifetime.test.ts'];

export const MUTATIONS: readonly Mutation[] = [
  // verify: signature and timestamp
  { name: 'verify-old-edge', file: VERIFY, find: 'nowSeconds - seconds > TIMESTAMP', replace: 'nowSeconds - seconds >= TIMESTAMP', tests: verifyTests, why: 'a timestamp exactly 300 s old is rejected' },
  { name: 'verify-future-edge', file: VERIFY, find: 'seconds - nowSeconds > TIMESTAMP', replace: 'seconds - nowSeconds >= TIMESTAMP', tests: verifyTests, why: 'a timestamp exactly 300 s ahead is rejected' },
  { name: 'verify-no-future-check', file: VERIFY, find: 'if (seconds - nowSeconds > TIMESTAMP', replace: 'if (false && seconds - nowSeconds > TIMESTAMP', tests: verifyTests, why: 'timestamps from the future are accepted' },
  { name: 'verify-tolerance-600', file: VERIFY, find: 'TIMESTAMP_TOLERANCE_SECONDS = 300', replace: 'TIMESTAMP_TOLERANCE_SECONDS = 600', tests: verifyTests, why: 'a ten-minute replay window' },
  { name: 'verify-short-hex', file: VERIFY, find: '[0-9a-fA-F]{64}', replace: '[0-9a-fA-F]{2,64}', tests: verifyTests, why: 'a short signature reaches timingSafeEqual and throws (500)' },
  { name: 'verify-any-version', file: VERIFY, find: "if (comma - start === 2 && value.startsWith('v1', start))", replace: 'if (true)', tests: verifyTests, why: 'a v2 entry is checked as a v1 MAC' },
  { name: 'verify-first-secret-only', file: VERIFY, find: 'for (const secret of secrets) {', replace: 'for (const secret of secrets.slice(0, 1)) {', tests: verifyTests, why: 'rotation: only the first active secret is tried' },
  { name: 'verify-unsigned-timestamp', file: VERIFY, find: '? `${signedAtSeconds}.`', replace: "? ''", tests: verifyTests, why: 'the Together timestamp is not signed, so any timestamp can be replayed' },
  { name: 'verify-standard-no-id', file: VERIFY, find: '`${headerId}.${signedAtSeconds}.`', replace: '`${signedAtSeconds}.`', tests: verifyTests, why: 'the Standard Webhooks id is not signed' },
  { name: 'verify-repeat-allowed', file: VERIFY, find: 'parts.some((part) => part !== first)', replace: 'false', tests: verifyTests, why: 'a header repeated with different values is read as its first value' },
  { name: 'verify-empty-id', file: VERIFY, find: "headerId === undefined || headerId === ''", replace: 'headerId === undefined', tests: verifyTests, why: 'an empty webhook-id is accepted' },
  { name: 'verify-whsec-kept', file: VERIFY, find: "Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64')", replace: "Buffer.from(secret, 'base64')", tests: verifyTests, why: 'the whsec_ prefix is decoded as key bytes' },
  { name: 'verify-header-case', file: VERIFY, find: 'key.toLowerCase() !== name', replace: 'key !== name', tests: verifyTests, why: 'header names become case-sensitive' },

  // normalize: envelope to event, body timestamps
  { name: 'normalize-retention-edge', file: NORMALIZE, find: 'facts.bodyTimestampSeconds > input.retentionSeconds', replace: 'facts.bodyTimestampSeconds >= input.retentionSeconds', tests: normalizeTests, why: 'a body timestamp exactly one retention old is rejected' },
  { name: 'normalize-future-edge', file: NORMALIZE, find: 'nowSeconds > TIMESTAMP_TOLERANCE_SECONDS', replace: 'nowSeconds >= TIMESTAMP_TOLERANCE_SECONDS', tests: normalizeTests, why: 'a body timestamp exactly 300 s ahead is rejected' },
  { name: 'normalize-no-future-check', file: NORMALIZE, find: 'if (facts.bodyTimestampSeconds - nowSeconds', replace: 'if (false && facts.bodyTimestampSeconds - nowSeconds', tests: normalizeTests, why: 'a body timestamp from the future outlives its dedupe record' },
  { name: 'normalize-body-ts-always', file: NORMALIZE, find: 'input.spec.timestampHeader === undefined &&', replace: '', tests: normalizeTests, why: 'Together timestamped deliveries with an old created are rejected' },
  { name: 'normalize-lossy-utf8', file: NORMALIZE, find: '{ fatal: true }', replace: '{ fatal: false }', tests: normalizeTests, why: 'invalid UTF-8 is replaced silently instead of a 400' },
  { name: 'normalize-occurred-at', file: NORMALIZE, find: 'facts.occurredAtSeconds * 1000', replace: 'facts.occurredAtSeconds * 100', tests: normalizeTests, why: 'occurredAt is wrong' },
  { name: 'routes-fallback', file: 'functions/core/routes.ts', find: "FALLBACK_ROUTE: Route = 'other'", replace: "FALLBACK_ROUTE: Route = 'fine_tune.started'", tests: normalizeTests, why: 'unknown types land on a real route' },

  // providers: type maps, subjects, ids
  { name: 'standard-cancelled-to-other', file: 'functions/core/providers/standard.ts', find: "'fine_tuning.job.cancelled': 'fine_tune.failed'", replace: "'fine_tuning.job.cancelled': 'other'", tests: providerTests, why: 'a cancelled OpenAI job is not a failure' },
  { name: 'standard-expired-to-other', file: 'functions/core/providers/standard.ts', find: "'batch.expired': 'batch.failed'", replace: "'batch.expired': 'other'", tests: providerTests, why: 'an expired batch is not a failure' },
  { name: 'standard-id-from-type', file: 'functions/core/providers/standard.ts', find: "id: verified.headerId ?? ''", replace: 'id: envelope.type', tests: providerTests, why: 'the event id is not the signed webhook-id' },
  { name: 'standard-subject-dropped', file: 'functions/core/providers/standard.ts', find: "pickSubject(envelope.data, ['id'])", replace: 'undefined', tests: providerTests, why: 'Standard events lose their subject' },
  { name: 'together-batch-subject-dropped', file: 'functions/core/providers/together.ts', find: "'batch_id', ", replace: '', tests: providerTests, why: 'batch.done loses batch_id as its subject' },
  { name: 'together-batch-done-to-other', file: 'functions/core/providers/together.ts', find: "'batch.done': 'batch.completed'", replace: "'batch.done': 'other'", tests: providerTests, why: 'batch.done is not a completed batch' },
  { name: 'together-checkpoint-to-other', file: 'functions/core/providers/together.ts', find: "'fine_tune.checkpoint': 'fine_tune.checkpoint'", replace: "'fine_tune.checkpoint': 'other'", tests: providerTests, why: 'checkpoints miss their route' },
  { name: 'llmtune-subject-no-job', file: 'functions/core/providers/llmtune.ts', find: "['jobId', 'deploymentId', 'modelId']", replace: "['deploymentId', 'modelId']", tests: providerTests, why: 'LLMTune training events lose jobId as their subject' },
  { name: 'llmtune-id-separator', file: 'functions/core/providers/llmtune.ts', find: '`${event}\\n${', replace: '`${event}${', tests: providerTests, why: 'the derived LLMTune id differs from the contract' },
  { name: 'llmtune-deleted-to-other', file: 'functions/core/providers/llmtune.ts', find: "'deployment.deleted': 'deployment.changed'", replace: "'deployment.deleted': 'other'", tests: providerTests, why: 'a deleted deployment misses its route' },
  { name: 'llmtune-failed-to-completed', file: 'functions/core/providers/llmtune.ts', find: "'training.failed': 'fine_tune.failed'", replace: "'training.failed': 'fine_tune.completed'", tests: providerTests, why: 'a failed training reads as completed' },
  { name: 'mythicdot-failed-to-completed', file: 'functions/core/providers/mythicdot.ts', find: "'fine_tuning.job.failed': 'fine_tune.failed'", replace: "'fine_tuning.job.failed': 'fine_tune.completed'", tests: providerTests, why: 'a failed job reads as completed' },
  { name: 'mythicdot-subject-level', file: 'functions/core/providers/mythicdot.ts', find: 'pickSubject(envelope.data.object,', replace: 'pickSubject(envelope.data,', tests: providerTests, why: 'MythicDot subjects read from the wrong level' },
  { name: 'subject-length-cap', file: 'functions/core/providers/types.ts', find: 'value.length <= 512', replace: 'value.length <= 5120', tests: providerTests, why: 'an over-long id becomes a subject the schema rejects (400 instead of accepted)' },
  { name: 'seconds-negative', file: 'functions/core/providers/types.ts', find: 'Number.isFinite(value) && value >= 0 &&', replace: 'Number.isFinite(value) &&', tests: ['test/unit/input-edges.test.ts', ...providerTests], why: 'negative Unix times are accepted' },

  // accept: the one write path
  { name: 'accept-no-expired-takeover', file: ACCEPT, find: "'(#expiresAt < :now AND (", replace: "'(#expiresAt < :now AND #pk = :inProgress AND (", tests: acceptTests, why: 'a record past expiresAt (not yet deleted by TTL) answers duplicate forever' },
  { name: 'accept-live-lease-takeover', file: ACCEPT, find: '(#status = :inProgress AND #leaseExpiresAt < :now)', replace: '(#status = :inProgress AND attribute_exists(#leaseExpiresAt))', tests: acceptTests, why: 'a request in progress is overtaken: two sends of one event' },
  { name: 'accept-no-release', file: ACCEPT, find: "await release(deps, key, leaseToken);\n    throw new DependencyError('could not send", replace: "throw new DependencyError('could not send", tests: acceptTests, why: 'a failed send blocks the retry for the whole lease' },
  { name: 'accept-mark-any-holder', file: ACCEPT, find: "'#status = :inProgress AND leaseToken = :token'", replace: "'#status = :inProgress AND (leaseToken = :token OR attribute_exists(leaseToken))'", tests: acceptTests, why: 'a stale lease holder marks a record another request holds' },
  { name: 'accept-in-progress-is-duplicate', file: ACCEPT, find: "holder.status === undefined || holder.status === 'in_progress'", replace: 'holder.status === undefined', tests: acceptTests, why: 'a concurrent retry is told duplicate (200) while the first may still fail' },
  { name: 'accept-lease-short', file: ACCEPT, find: 'leaseExpiresAt: nowSeconds + deps.leaseSeconds', replace: 'leaseExpiresAt: nowSeconds + deps.leaseSeconds - 2', tests: acceptTests, why: 'the lease is shorter than LEASE_SECONDS' },
  { name: 'accept-retention-as-lease', file: ACCEPT, find: 'envelopeFields(event, nowSeconds + retentionSeconds, retentionSeconds)', replace: 'envelopeFields(event, nowSeconds + deps.leaseSeconds, retentionSeconds)', tests: acceptTests, why: 'records expire after seconds instead of the retention' },

  // ledger and consume: exactly-once effects
  { name: 'ledger-live-lease-takeover', file: LEDGER, find: '#leaseExpiresAt < :now)', replace: '#leaseExpiresAt > :now)', tests: ledgerTests, why: 'a live consumer lease is overtaken and a dead one never' },
  { name: 'ledger-failed-not-claimable', file: LEDGER, find: "['queued', 'in_progress', 'failed']", replace: "['queued', 'in_progress']", tests: ledgerTests, why: 'a failed event is never retried' },
  { name: 'ledger-handled-not-duplicate', file: LEDGER, find: "if (status === 'handled') return", replace: "if (status === 'failed') return", tests: ledgerTests, why: 'a redelivered handled event fails until the DLQ' },
  { name: 'ledger-any-holder-marks', file: LEDGER, find: "'#leaseToken = :leaseToken'", replace: "'#leaseToken = :leaseToken OR attribute_not_exists(#leaseToken)'", tests: ledgerTests, why: 'a consumer that lost its lease still marks the record' },
  { name: 'ledger-attempts-from-one', file: LEDGER, find: "':zero': 0,", replace: "':zero': 1,", tests: ledgerTests, why: 'attempts are counted from 2' },
  { name: 'consume-steps-rerun', file: 'functions/consumers/once.ts', find: 'if (lease.completedSteps.has(name))', replace: 'if (false)', tests: [...ledgerTests, 'test/integration/consumers-once.test.ts'], why: 'a retry repeats the steps an earlier attempt completed (double alerts)' },
  { name: 'consume-no-mark-failed', file: 'functions/consumers/consume.ts', find: 'await markFailed(ledger, lease, error)', replace: 'await Promise.resolve()', tests: ledgerTests, why: 'a failed attempt keeps its lease: its retry is refused' },
  { name: 'consumer-lease-beyond-visibility', file: 'functions/consumers/config.ts', find: '2 * QUEUE_SETTINGS.consumerTimeoutSeconds', replace: '7 * QUEUE_SETTINGS.consumerTimeoutSeconds', tests: ['test/unit/consumers.test.ts', ...ledgerTests], why: 'the redelivery of a dead consumer’s message still finds its lease' },

  // projection (consumers/routes/jobs.ts)
  { name: 'jobs-equal-rank-overwrites', file: JOB_HISTORY, find: 'current.rank < rank', replace: 'current.rank <= rank', tests: ['test/unit/job-history.test.ts', ...jobsTests], why: 'a second terminal state replaces the first' },
  { name: 'jobs-lower-step-overwrites', file: JOB_HISTORY, find: 'top.step >= current.step', replace: 'top.step <= current.step', tests: ['test/unit/job-history.test.ts', ...jobsTests], why: 'the step guard is inverted: a higher checkpoint no longer raises the job step, which stays at the first one seen' },
  { name: 'jobs-running-outranks-done', file: 'functions/core/table.ts', find: 'running: 2,', replace: 'running: 4,', tests: jobsTests, why: 'a checkpoint after completed reopens the job' },
  { name: 'jobs-failed-as-completed', file: JOBS, find: "'fine_tune.failed': { kind: 'fine_tune', state: 'failed' }", replace: "'fine_tune.failed': { kind: 'fine_tune', state: 'completed' }", tests: jobsTests, why: 'failed jobs are projected as completed' },
  { name: 'jobs-key-without-provider', file: JOBS, find: 'pk: `${event.provider}#${event.subject}`', replace: 'pk: `${event.subject}`', tests: jobsTests, why: 'jobs of two providers with one id collide' },
  { name: 'jobs-model-name-ignored', file: JOBS, find: 'model: event.data.modelName,', replace: 'model: undefined,', tests: jobsTests, why: 'the fine-tuned model name is not projected' },
  { name: 'jobs-transition-self', file: JOBS, find: "return `${update.pk}#${update.state}`;", replace: "return `${update.pk}#${update.state}#${event.id}`;", tests: ['test/integration/consumers-once.test.ts', ...jobsTests], why: 'the transition key includes the event id: a push and a poll of one failure both alert' },

  // poller
  { name: 'observe-cancelled-unannounced', file: OBSERVE, find: "} else if (status === 'cancelled') {", replace: "} else if (status === 'never') {", tests: pollerTests, why: 'a cancelled job reports its end' },
  { name: 'observe-expired-as-failed', file: OBSERVE, find: "status === 'EXPIRED'", replace: "status === 'NEVER'", tests: pollerTests, why: 'an expired batch is batch.expired, not a failure' },
  { name: 'observe-completed-not-ran', file: OBSERVE, find: "'uploading', 'completed'])", replace: "'uploading'])", tests: pollerTests, why: 'a short job seen only as completed reports no start' },
  { name: 'observe-expired-completed', file: OBSERVE, find: "status === 'COMPLETED'", replace: "status !== 'FAILED'", tests: pollerTests, why: 'an expired or cancelled batch reads as completed' },
  { name: 'observe-ids-per-poll', file: OBSERVE, find: '`poll:ft:${job.id}:${key}`', replace: '`poll:ft:${job.id}:${key}:${receivedAt}`', tests: pollerTests, why: 'every poll gives new ids: duplicates downstream' },
  { name: 'observe-expired-not-terminal', file: OBSERVE, find: "'FAILED', 'EXPIRED', 'CANCELLED'", replace: "'FAILED', 'CANCELLED'", tests: pollerTests, why: 'an expired batch is never announced' },
  { name: 'poller-backfill-hour', file: POLL, find: 'backfillSeconds: 86_400', replace: 'backfillSeconds: 3_600', tests: [...pollerTests, 'test/unit/poller-config.test.ts'], why: 'jobs finished 1–24 h before the first poll are never announced' },
  { name: 'poller-backfill-from-now', file: POLL, find: 'return firstPolledMs - Date.parse(iso)', replace: 'return Date.now() - Date.parse(iso)', tests: pollerTests, why: 'backfill measured from now, not the first poll: an outage swallows what finished meanwhile' },
  { name: 'poller-state-any-write', file: 'functions/poller/state.ts', find: "'attribute_not_exists(#pk) OR terminal = :false'", replace: "'attribute_not_exists(#pk) OR terminal = :false OR terminal <> :false'", tests: pollerStateTests, why: 'a slower poller writes a finished job back to unfinished' },
  { name: 'poller-state-emitted-replaced', file: 'functions/poller/state.ts', find: "' ADD emitted :emitted'", replace: "', emitted = :emitted'", tests: pollerStateTests, why: 'two pollers saving one job lose each other’s emitted keys: events announced twice' },

  // infra settings
  { name: 'queues-max-receive-1', file: QUEUES, find: 'maxReceiveCount: 5,', replace: 'maxReceiveCount: 1,', tests: infraTests, why: 'one failure dead-letters an event' },
  { name: 'queues-visibility-240', file: QUEUES, find: 'visibilityTimeoutSeconds: 180,', replace: 'visibilityTimeoutSeconds: 240,', tests: infraTests, why: 'retries come later than the README says' },
  { name: 'queues-visibility-below-guard', file: QUEUES, find: 'visibilityTimeoutSeconds: 180,', replace: 'visibilityTimeoutSeconds: 60,', tests: infraTests, why: 'visibility below six times the consumer timeout' },
  { name: 'queues-consumer-timeout-20', file: QUEUES, find: 'consumerTimeoutSeconds: 30,', replace: 'consumerTimeoutSeconds: 20,', tests: infraTests, why: 'consumers are cut off sooner than documented' },
  { name: 'queues-dlq-4-days', file: QUEUES, find: 'deadLetterRetentionSeconds: SQS_MAX_RETENTION_SECONDS,', replace: 'deadLetterRetentionSeconds: 4 * 24 * 3600,', tests: infraTests, why: 'dead letters are deleted after 4 days' },
  { name: 'queues-batch-100', file: QUEUES, find: 'batchSize: 10,', replace: 'batchSize: 100,', tests: infraTests, why: 'batches of 100 instead of the documented 10' },
  { name: 'pipeline-guard-5x', file: 'infra/constructs/route-pipeline.ts', find: '< 6 * settings.consumerTimeoutSeconds', replace: '< 5 * settings.consumerTimeoutSeconds', tests: infraTests, why: 'the synth-time guard allows visibility of five times the timeout' },
  { name: 'pipeline-no-partial-failures', file: 'infra/constructs/route-pipeline.ts', find: 'reportBatchItemFailures: true,', replace: 'reportBatchItemFailures: false,', tests: infraTests, why: 'one failed record retries the whole batch' },
  { name: 'config-retention-1-day', file: 'functions/core/config.ts', find: 'MIN_RETENTION_DAYS = 7', replace: 'MIN_RETENTION_DAYS = 1', tests: infraTests, why: 'event ids are forgotten after a day by default' },
  { name: 'config-body-cap-512k', file: 'functions/core/config.ts', find: 'DEFAULT_MAX_BODY_BYTES = 256 * 1024', replace: 'DEFAULT_MAX_BODY_BYTES = 512 * 1024', tests: [...infraTests, 'test/reliability/bad-input.test.ts'], why: 'the default body cap is not the documented 256 KiB' },
];
