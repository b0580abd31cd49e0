// Types of the /v1 answers, taken from the server's own definitions (types only: nothing of
// src/ is bundled into the console).
export type { TargetView, TaskView } from '../../src/projections/target-view.ts';
export type { SystemView } from '../../src/projections/system-view.ts';
export type { StoredEvent } from '../../src/events/envelope.ts';
export type { GraphNode, GraphEdge } from '../../src/projections/state.ts';
export type { PublicSession } from '../../src/console/session.ts';

import type { SystemView } from '../../src/projections/system-view.ts';
import type { TargetView } from '../../src/projections/target-view.ts';

/** GET /v1/status */
export type StatusAnswer = Omit<SystemView, 'views'> & { targets_detail: TargetView[] };
