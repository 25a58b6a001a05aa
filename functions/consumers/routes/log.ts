import type { RouteStep } from './context';

/**
 * Records an event that has no built-in effect: the event log (its record, marked handled) keeps
 * it, and the log line says it arrived. Never the payload: it may hold customer data.
 */
export const logEvent: RouteStep = async (event, context) => {
  context.logger.info(event.type === 'other' ? 'unrouted event recorded' : 'event recorded', {
    key: context.key,
    route: event.type,
    providerType: event.providerType,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
  });
};
