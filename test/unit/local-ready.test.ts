import { describe, expect, it } from 'vitest';
import { readyLines } from '../../local/ready';

const defaults = { url: 'http://127.0.0.1:3000', dynamodbEndpoint: 'http://127.0.0.1:8000', sqsEndpoint: 'http://127.0.0.1:4566' };

describe('npm start ready message', () => {
  it('prints the next step: the npm run send command to try, then how to see the event', () => {
    const text = readyLines({ ...defaults, providers: ['together', 'standard'] }).join('\n');

    expect(text).toContain('ready: http://127.0.0.1:3000/health  (Ctrl-C to stop)');
    expect(text).toContain('  npm run send -- together fine_tune.completed\n');
    expect(text.endsWith('\n  npx webhooks events list')).toBe(true);
  });

  it('names the first enabled provider and a sample it has, and the ports when they are not the defaults', () => {
    const text = readyLines({
      url: 'http://127.0.0.1:3100',
      dynamodbEndpoint: 'http://127.0.0.1:8100',
      sqsEndpoint: 'http://127.0.0.1:4600',
      providers: ['standard'],
    }).join('\n');

    expect(text).toContain('  npm run send -- standard fine_tuning.job.succeeded --url http://127.0.0.1:3100');
    expect(text).toContain('  DYNAMODB_PORT=8100 SQS_PORT=4600 npx webhooks events list');
  });

  it('[SIM] offers a whole simulated fine-tune when the fake provider APIs are served and OpenAI is on', () => {
    const served = readyLines({ ...defaults, providers: ['together', 'openai'], fakeProvidersUrl: 'http://127.0.0.1:4010' }).join('\n');
    const elsewhere = readyLines({ ...defaults, url: 'http://127.0.0.1:3100', providers: ['openai'], fakeProvidersUrl: 'http://127.0.0.1:4100' }).join('\n');
    const off = readyLines({ ...defaults, providers: ['together', 'openai'] }).join('\n');

    expect(served.endsWith('\n  npx webhooks simulate fine-tune --provider openai')).toBe(true);
    expect(elsewhere).toContain('\n  FAKE_PROVIDERS_PORT=4100 npx webhooks simulate fine-tune --provider openai --url http://127.0.0.1:3100');
    expect(off).not.toContain('simulate');
  });

  it('[PKG] under `webhooks dev`, where the package is installed, sends the sample with the bin', () => {
    const text = readyLines({ ...defaults, providers: ['together'], sendCommand: 'npx webhooks send' }).join('\n');

    expect(text).toContain('  npx webhooks send together fine_tune.completed\n');
    expect(text).not.toContain('npm run send');
  });

  it('ends with the web console address when the console is served', () => {
    const text = readyLines({ ...defaults, providers: ['together'], consoleUrl: 'http://127.0.0.1:3000/' }).join('\n');

    expect(text.endsWith('\nor open the web console: http://127.0.0.1:3000/')).toBe(true);
  });
});
