import { eventDataSchemas, OPERATOR_ACTION_TYPES } from '../../src/events/types.ts';

/** Every event type of the vocabulary: the names the live stream's frames can carry. */
export const KNOWN_EVENT_TYPES: readonly string[] = [...new Set([...Object.keys(eventDataSchemas), ...OPERATOR_ACTION_TYPES, 'scheduler.emergency_stopped', 'scheduler.emergency_resumed'])];

/** Operator actions, for the audit view's query. */
export { OPERATOR_ACTION_TYPES };
