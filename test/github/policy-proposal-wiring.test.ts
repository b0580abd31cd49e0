import { describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { post, useApp } from './harness.ts';

const T = 'acme/radix';
let cp: TestControlPlane;
let gh: GitHubMock;

useApp((a) => ({ cp, gh } = a));

describe('policy proposals with the GitHub App configured', () => {
  it('open a pull request with the installation client, never writing the default branch', async () => {
    await post(cp, [{ type: 'target.registered', target: T, data: { installation_id: 42, default_branch: 'trunk' } }]);
    // The branch name carries the time, so the contents calls are matched by pattern.
    const contents = new RegExp(`^/repos/${T}/contents/\\.leviathan%2Fpolicy\\.yaml`);
    gh.installationToken(42)
      .on('GET', `/repos/${T}/git/ref/heads%2Ftrunk`, 200, { object: { sha: 'abc123' } })
      .on('POST', `/repos/${T}/git/refs`, 201, {}, { effect: (b) => `${T}:branch:${(b as { ref: string }).ref}` })
      .on('GET', contents, 404, { message: 'Not Found' })
      .on('PUT', contents, 201, {}, { effect: (b) => `${T}:put:${(b as { branch: string }).branch}` })
      .on('POST', `/repos/${T}/pulls`, 201, { number: 77, html_url: `https://github.com/${T}/pull/77` }, { effect: (b) => `${T}:pull:${(b as { base: string }).base}` });

    const res = await cp.api(`/v1/targets/${T}/policy/proposals`, { method: 'POST', json: { policy_yaml: 'max_open_prs: 3\n', reason: 'more throughput' } });
    expect(res.status).toBe(201);
    const [branch, put, pull] = gh.effects;
    expect(branch).toMatch(new RegExp(`^${T}:branch:refs/heads/leviathan/policy-`));
    expect(put).toBe(`${T}:put:${branch!.split('refs/heads/')[1]}`);
    expect(pull).toBe(`${T}:pull:trunk`);
  });
});
