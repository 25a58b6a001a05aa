import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

/**
 * The log line of a deployed function that writes one per event: Powertools' own format less what
 * CloudWatch already keeps beside every line. The log group and stream name the function, its
 * version and memory, so `service`, `function_name`, `function_arn` and `function_memory_size`
 * are left out, and so is `sampling_rate` (a setting, not a fact of the line); `cold_start` is
 * written on the first line of an execution environment only. Kept: level, message, timestamp,
 * the request id (what joins a line to the API's access log and to Lambda's own lines), the X-Ray
 * trace id when there is one, and every key the line was given (an error keeps its name, message,
 * stack and cause).
 */
export class LambdaLineFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        ...(context?.coldStart === true ? { cold_start: true } : {}),
        function_request_id: context?.awsRequestId,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additionalLogAttributes);
  }
}

/** The logger of a deployed function that logs once per event (the receiver): {@link LambdaLineFormatter} lines. */
export function lambdaLogger(serviceName: string): Logger {
  return new Logger({ serviceName, logFormatter: new LambdaLineFormatter() });
}
