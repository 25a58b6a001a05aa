import type { ProviderName } from './event';

/**
 * Preset dictionaries for raw deflate of stored payloads (`stored-event.ts`): per provider, the
 * field names and fixed strings of its deliveries, as its sample deliveries (the providers' public
 * references) show them, most common last, where deflate reaches them cheapest. A few hundred
 * bytes each, since the receiver bundles them all.
 *
 * Stored bytes name the dictionary they were packed with (their first byte), so a dictionary is
 * never edited: a better one is added under a new id and made current in {@link CURRENT_DICTIONARY},
 * and the old entry stays until every record packed with it has expired (the longest retention).
 * `test/unit/stored-event.test.ts` pins the hash of each entry.
 */
export const PAYLOAD_DICTIONARIES: Readonly<Record<number, string>> = {
  // 0: no dictionary (plain raw deflate), for a provider without one.
  1: '{"o":"","p":{"fine_tune_id":"ft-","error_message":"","step":1200,"loss":0.87}}{"o":"","p":{"batch_id":"","output_url":"https://api.together.xyz/v1/files/","total_tokens":}}{"o":"","p":{"model_id":"","replacement_model":"","sunset_date":""}}{"o":"","p":{"fine_tune_id":"ft-","model_name":"","eval_loss":0.',
  2: '{"o":"","p":{"deploymentId":"","modelId":"","version":"v1","environment":"production","endpoint":"https://api.llmtune.io/v1/models/"}}{"o":"","p":{"jobId":"job-","baseModel":"","status":"failed","error":""}}{"o":"","p":{"jobId":"job-","baseModel":"meta-llama/","trainingMethod":"sft","status":"running","createdAt":""}}{"o":"","p":{"jobId":"job-","baseModel":"meta-llama/","artifact":"","metrics":{"loss":,"evalLoss":,"tokensPerSecond":,"totalTokens":},"completedAt":"',
  3: '{"o":"","p":{"object":{"id":"","threshold_usd":,"current_usd":}}}{"o":"","p":{"object":{"id":"","status":"failed","errors":[{"code":"","line":}]}}}{"o":"","p":{"object":{"id":"batch_","status":"completed","request_counts":{"total":,"completed":,"failed":},"output_file_id":"file-"}}}{"o":"","p":{"object":{"id":"ftjob-","status":"failed","error":{"message":""}}}}{"o":"","p":{"object":{"id":"ftjob-","status":"succeeded","fine_tuned_model":"ft:',
  4: '{"o":"","p":{"id":"batch_"}}{"o":"","p":{"id":"eval_"}}{"o":"","p":{"id":"resp_"}}{"o":"","p":{"id":"ftjob-',
  5: '{"o":"","p":{"id":"","model":"","version":"","input":{"prompt":"","steps":1000,"lora_rank":16,"learning_rate":0.0004},"output":null,"logs":"","error":null,"metrics":{},"source":"web","data_removed":false,"webhook":"https://","webhook_events_filter":["start","logs","completed"],"created_at":"","started_at":"","completed_at":"","urls":{"get":"https://api.replicate.com/v1/trainings/","cancel":"https://api.replicate.com/v1/trainings/","web":"https://replicate.com/p/"},"status":"processing"}}{"o":"","p":{"id":"","model":"","version":"","input":{"prompt":"","num_outputs":1},"output":["https://replicate.delivery/"],"logs":"","error":null,"metrics":{"predict_time":,"total_time":},"source":"api","data_removed":false,"webhook":"https://","webhook_events_filter":["start","output","logs","completed"],"created_at":"","started_at":"","completed_at":"","urls":{"get":"https://api.replicate.com/v1/predictions/","cancel":"https://api.replicate.com/v1/predictions/","stream":"https://stream.replicate.com/v1/files/","web":"https://replicate.com/p/"},"status":"succeeded"}}',
  6: '{"o":"","p":{"id":"batch_"}}{"o":"","p":{"id":"ftjob-',
};

/** The dictionary each provider's payloads are packed with now. */
export const CURRENT_DICTIONARY: Readonly<Record<ProviderName, number>> = {
  together: 1,
  llmtune: 2,
  mythicdot: 3,
  openai: 4,
  replicate: 5,
  standard: 6,
};
