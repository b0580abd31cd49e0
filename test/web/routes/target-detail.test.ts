import { createElement, type ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TargetView } from '../../../web/app/api-types.ts';
import { startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';

// The page as its loader and the console layout hand it over; the forms render as plain <form>s.
const loaded: { target: TargetView | null } = { target: null };
vi.mock('@remix-run/react', () => ({
  Form: ({ children, ...props }: { children: ReactNode }) => createElement('form', props, children),
  Link: ({ to, children, ...props }: { to: string; children: ReactNode }) => createElement('a', { href: to, ...props }, children),
  useLoaderData: () => loaded,
  useActionData: () => undefined,
  useNavigation: () => ({ state: 'idle' }),
  useRevalidator: () => ({ state: 'idle', revalidate: () => undefined }),
  useRouteLoaderData: () => ({ session: { canWrite: true, csrf: 'csrf-1' } }),
}));

const T = 'acme/web';
let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
  await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'target.registered', target: T, data: { installation_id: 1, default_branch: 'main' } },
      { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 3, cooldown_until: '2999-01-01T00:00:00Z' } },
    ],
  });
  loaded.target = ((await (await cp.api(`/v1/targets/${T}`)).json()) as { target: TargetView }).target;
});
afterAll(async () => {
  await cp.destroy();
});

describe('target detail', () => {
  it('takes an optional reason with a circuit breaker reset, as with the other controls', async () => {
    const { default: TargetDetail } = await import('../../../web/app/routes/target-detail.tsx');
    const html = renderToStaticMarkup(createElement(TargetDetail));
    const reset = /<form[^>]*>(?:(?!<\/form>).)*value="reset-breaker"(?:(?!<\/form>).)*<\/form>/s.exec(html)?.[0];
    expect(reset).toBeDefined();
    expect(reset).toMatch(/<input name="reason" placeholder="Reason \(optional\)" aria-label="Reset reason"/);
    expect(reset).not.toMatch(/required/);
  });
});
