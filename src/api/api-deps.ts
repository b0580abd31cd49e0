import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import type { Principal } from './auth.ts';

export interface Clock {
  now(): Date;
}

/** What the /v1 routes need; every part is a port so tests can pass their own. */
export interface ApiDeps {
  store: EventStore;
  projector: Projector;
  /** Resolves the caller from the request (bearer token, or a console session). */
  authenticate(req: IncomingMessage): Principal | null;
  clock: Clock;
  logger: Logger;
  version: string;
  sseHeartbeatMs: number;
}
