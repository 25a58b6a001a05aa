import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Delivery } from '../../ops/deliveries';

export interface GatewayEventInput {
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Send the body base64-encoded, as API Gateway does for binary content. */
  readonly base64?: boolean;
  /** When the request reached the gateway, epoch ms. */
  readonly timeEpoch?: number;
}

/** An API Gateway HTTP API (payload 2.0) event, as the receiver gets it in AWS. */
export function gatewayEvent(input: GatewayEventInput): APIGatewayProxyEventV2 {
  const timeEpoch = input.timeEpoch ?? Date.now();
  const method = input.method ?? 'POST';
  const raw = input.body === undefined ? undefined : Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body);
  const provider = /^\/webhooks\/([^/]+)$/.exec(input.path)?.[1];
  return {
    version: '2.0',
    routeKey: 'ANY /webhooks/{provider}',
    rawPath: input.path,
    rawQueryString: '',
    headers: Object.fromEntries(Object.entries(input.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
    ...(provider === undefined ? {} : { pathParameters: { provider } }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'test',
      domainName: 'test.example.com',
      domainPrefix: 'test',
      http: { method, path: input.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey: 'ANY /webhooks/{provider}',
      stage: '$default',
      time: new Date(timeEpoch).toISOString(),
      timeEpoch,
    },
    isBase64Encoded: input.base64 ?? false,
    ...(raw === undefined ? {} : { body: input.base64 ? raw.toString('base64') : raw.toString('utf8') }),
  };
}

/** The gateway event of a signed sample delivery. */
export function deliveryEvent(delivery: Delivery, overrides: Partial<GatewayEventInput> = {}): APIGatewayProxyEventV2 {
  return gatewayEvent({ path: delivery.path, headers: delivery.headers, body: delivery.body, ...overrides });
}
