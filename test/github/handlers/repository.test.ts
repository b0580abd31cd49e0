import { describe, expect, it } from 'vitest';
import { repositoryEvents } from '../../../src/github/handlers/repository.ts';
import { evolve } from '../../../src/projections/evolve.ts';
import { emptyState, type ProjectionState } from '../../../src/projections/state.ts';
import { log } from '../../projections/given.ts';
import type { TestControlPlane } from '../../helpers/control-plane.ts';
import { GitHubMock } from '../../helpers/github-mock.ts';
import { deliver, events, example, post, targetsOf, until, useApp } from '../harness.ts';

const OLD = 'octocat/Hello-World';

function stateWith(specs: Parameters<typeof log>[0]): ProjectionState {
  return log(specs).reduce((s, e) => evolve(s, e), emptyState());
}

describe('repository webhooks → target events', () => {
  const known = () => stateWith([{ type: 'target.registered', target: OLD, data: { installation_id: 3, default_branch: 'master' } }]);

  it('transferred: the new name registered from the old one, the old removed, the new checked', () => {
    const payload = example('repository', 'transferred');
    payload.installation = { id: 3 };
    const { events: es, followUp } = repositoryEvents(known(), payload as never, 'github:octocat');
    expect(es.map((e) => [e.type, e.target, e.data])).toEqual([
      ['target.registered', 'Octocoders/Hello-World', { installation_id: 3, default_branch: 'master', renamed_from: OLD, via: 'transferred' }],
      ['target.removed', OLD, { installation_id: 3, renamed_to: 'Octocoders/Hello-World', via: 'transferred' }],
    ]);
    expect(followUp).toEqual({ kind: 'register', target: 'Octocoders/Hello-World', installationId: 3, defaultBranch: 'master' });
  });

  it('a move of a repository the log does not know: its installation is reconciled, nothing guessed', () => {
    const payload = example('repository', 'renamed');
    payload.changes = { repository: { name: { from: 'Old-Name' } } };
    expect(repositoryEvents(emptyState(), payload as never, 'github:x')).toEqual({ events: [], followUp: { kind: 'reconcile', installationId: payload.installation.id } });
  });

  it('deleted removes a known target; edited asks GitHub for the default branch only when it changed', () => {
    const state = stateWith([{ type: 'target.registered', target: 'Octocoders/Hello-World', data: { installation_id: 3 } }]);
    const deleted = { action: 'deleted', repository: { full_name: 'Octocoders/Hello-World', name: 'Hello-World' } };
    expect(repositoryEvents(state, deleted, 'github:x').events.map((e) => e.type)).toEqual(['target.removed']);
    const description = example('repository', 'edited');
    description.changes = { description: { from: 'My Repo' } };
    expect(repositoryEvents(state, description as never, 'github:x')).toEqual({ events: [], followUp: null });
    const branch = { ...description, changes: { default_branch: { from: 'main' } } };
    expect(repositoryEvents(state, branch as never, 'github:x')).toEqual({ events: [], followUp: { kind: 'default_branch', target: 'Octocoders/Hello-World' } });
  });
});

describe('repository webhooks, delivered', () => {
  let cp: TestControlPlane;
  let gh: GitHubMock;
  useApp((a) => ({ cp, gh } = a));

  it('edited → default_branch: the new branch is recorded and the backlog read there', async () => {
    const T = 'Octocoders/Hello-World';
    await post(cp, [{ type: 'target.registered', target: T, data: { installation_id: 7, default_branch: 'main' } }]);
    const payload = example('repository', 'edited');
    payload.changes = { default_branch: { from: 'main' } };
    payload.installation = { id: 7 };
    gh.installationToken(7).on('GET', `/repos/${T}`, 200, { full_name: T, default_branch: 'master' });
    for (const f of ['backlog', 'policy', 'contract']) gh.on('GET', `/repos/${T}/contents/.leviathan/${f}.yaml`, 404, { message: 'Not Found' }, { query: { ref: 'master' } });
    await deliver(cp, 'repository', payload);
    await until(async () => (await events(cp, 'backlog.invalid')).length === 1, 'the backlog read on master');
    expect((await targetsOf(cp)).map((t) => [t.id, t.default_branch])).toEqual([[T, 'master']]);
  });
});
