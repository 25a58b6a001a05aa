import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConfigurationError,
  ConflictError,
  DependencyError,
  NotFoundError,
  SecretInvalidError,
  UnauthorizedError,
} from '../../functions/core/errors';

/** What a sender sees of each failure (status and body), and what the operator's log keeps of it. */
describe('the receiver’s errors', () => {
  it.each([
    [new NotFoundError('no provider named acme', 'unknown_provider'), 404, { error: 'unknown_provider', message: 'no provider named acme' }],
    [new ConflictError('together#evt_1 is being accepted', 'in_progress'), 409, { error: 'in_progress', message: 'together#evt_1 is being accepted' }],
    [new BadRequestError('the body is not JSON'), 400, { error: 'bad_request', message: 'the body is not JSON' }],
    [new UnauthorizedError('signature mismatch for secret 1', 'bad_signature'), 401, { error: 'unauthorized' }],
    [new DependencyError('DynamoDB PutItem timed out', 'table_unavailable'), 503, { error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' }],
    [new SecretInvalidError('the signing secret is empty'), 503, { error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' }],
  ])('[RULE] %s answers its status with a body that tells the sender only what is safe', (error, status, body) => {
    expect(error.statusCode).toBe(status);
    expect(error.publicBody()).toStrictEqual(body);
  });

  it('[RULE] a dependency failure keeps its cause and reason for the log, never in the sender’s body', () => {
    const timeout = new Error('socket hang up');

    const error = new DependencyError('SQS SendMessage failed', 'queue_unavailable', { cause: timeout });

    expect(error).toMatchObject({ name: 'DependencyError', reason: 'queue_unavailable', cause: timeout });
    expect(JSON.stringify(error.publicBody())).not.toContain('socket hang up');
    expect(new DependencyError('x', 'y')).not.toHaveProperty('cause');
  });

  it('[RULE] a configuration error is named as such where it is printed', () => {
    expect(String(new ConfigurationError('TOGETHER_API_KEY_SECRET_ARN is required'))).toBe('ConfigurationError: TOGETHER_API_KEY_SECRET_ARN is required');
  });
});
