/**
 * What the read commands load when they run: the events reads, their formatting and the target,
 * one module of the compiled bin rather than three. Each module a command imports on its own is a
 * file of its own for Node's loader, and those files are most of what `webhooks events list` costs
 * to start.
 */
export * from '../ops/events';
export * from './format';
export { localTarget, stackTarget } from '../ops/target';
