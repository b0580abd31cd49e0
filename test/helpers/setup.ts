import nock from 'nock';
import { afterEach, beforeEach, vi } from 'vitest';

// GitHub's API is only ever reached through nock; anything else but loopback is refused.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/);

// An unexpected console.error is a bug the test did not look for.
beforeEach(() => {
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    throw new Error(`console.error called unexpectedly: ${args.map(String).join(' ')}`);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});
