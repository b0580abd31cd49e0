import { ProbotOctokit } from 'probot';
import { afterEach, describe, expect, it } from 'vitest';
import { isBot, mayChange, repoPermission } from '../../src/github/permissions.ts';
import { GitHubMock } from '../helpers/github-mock.ts';

let gh: GitHubMock;
afterEach(async () => {
  await gh.done();
});

const octokit = () => new ProbotOctokit({ auth: { token: 'ghs_test' }, retry: { enabled: false }, throttle: { enabled: false } });
const URL = '/repos/acme/widgets/collaborators/someone/permission';

describe('who may change things', () => {
  it.each([
    ['admin', { permission: 'admin', role_name: 'admin' }, 'admin', true],
    ['maintain', { permission: 'write', role_name: 'maintain' }, 'maintain', true],
    ['write', { permission: 'write', role_name: 'write' }, 'write', true],
    ['a custom role based on write', { permission: 'write', role_name: 'release-manager' }, 'write', true],
    ['triage', { permission: 'read', role_name: 'triage' }, 'triage', false],
    ['read', { permission: 'read', role_name: 'read' }, 'read', false],
    ['a custom role based on read', { permission: 'read', role_name: 'auditor' }, 'read', false],
    ['none', { permission: 'none', role_name: 'none' }, 'none', false],
  ])('%s', async (_case, answer, level, allowed) => {
    gh = new GitHubMock().on('GET', URL, 200, answer);
    const p = await repoPermission(octokit(), 'acme', 'widgets', 'someone');
    expect(p).toBe(level);
    expect(mayChange(p, { login: 'someone', type: 'User' })).toBe(allowed);
  });

  it('someone who is not a collaborator (404) has none', async () => {
    gh = new GitHubMock().on('GET', URL, 404, { message: 'Not Found' });
    const p = await repoPermission(octokit(), 'acme', 'widgets', 'someone');
    expect(p).toBe('none');
    expect(mayChange(p)).toBe(false);
  });

  it('refuses bots, even with admin', () => {
    gh = new GitHubMock();
    expect(mayChange('admin', { login: 'renovate[bot]', type: 'Bot' })).toBe(false);
    expect(mayChange('admin', { login: 'helper[bot]' })).toBe(false);
    expect(isBot({ login: 'octocat', type: 'User' })).toBe(false);
  });
});
