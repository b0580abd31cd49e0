import { describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../../helpers/control-plane.ts';
import { GitHubMock } from '../../helpers/github-mock.ts';
import { COMMANDS } from '../../../src/github/commands/registry.ts';
import { FakeExecutor } from '../../scheduler/fake-executor.ts';
import { APP_ID, deliver, events, example, fixture, post, startApp, targetsOf, until, useApp } from '../harness.ts';

const TARGET = 'Codertocat/Hello-World';
const COMMENT_ID = 492700400;
let cp: TestControlPlane;
let gh: GitHubMock;

// Some tests restart the control plane with an executor: the one left running is destroyed.
useApp((a) => ({ cp, gh } = a), () => cp);

/** A real issue_comment.created payload (or the derived one on a PR) with our command as body. */
function comment(body: string, opts: { onPr?: boolean; prBody?: string } = {}): Record<string, any> {
  const payload = opts.onPr ? fixture('issue-comment-created-on-pull-request') : example('issue_comment', 'created');
  payload.comment.body = body;
  if (opts.prBody !== undefined) payload.issue.body = opts.prBody;
  return payload;
}

/** Mocks the reply and the reaction; they show up in gh.effects. */
function expectAnswer(permission?: string, opts: { token?: boolean } = {}): void {
  // Probot keeps the installation token: only the first answer of a test asks for one.
  if (opts.token ?? true) gh.installationToken(1);
  if (permission) gh.on('GET', `/repos/${TARGET}/collaborators/Codertocat/permission`, 200, { permission: permission === 'maintain' ? 'write' : permission, role_name: permission });
  gh.on('POST', `/repos/${TARGET}/issues/1/comments`, 201, { id: 1 }, { effect: (b) => `${TARGET}#1:comment:${(b as { body: string }).body}` });
  gh.on('POST', `/repos/${TARGET}/issues/comments/${COMMENT_ID}/reactions`, 201, { id: 1 }, { effect: (b) => `${TARGET}#1:reaction:${(b as { content: string }).content}` });
}

async function answered(): Promise<{ reply: string; reaction: string }> {
  await until(() => gh.effects.some((e) => e.includes(':reaction:')), 'the reaction');
  const reply = gh.effects.find((e) => e.includes(':comment:'))!.split(':comment:')[1]!;
  const reaction = gh.effects.find((e) => e.includes(':reaction:'))!.split(':reaction:')[1]!;
  return { reply, reaction };
}

/** Mocks only the reaction: the answer to someone the repository does not know. */
function expectReaction(): void {
  gh.installationToken(1);
  gh.on('POST', `/repos/${TARGET}/issues/comments/${COMMENT_ID}/reactions`, 201, { id: 1 }, { effect: (b) => `${TARGET}#1:reaction:${(b as { content: string }).content}` });
}

/** The events recorded after the first `before`, once the command's outcome is among them. */
async function completedTypes(before: number, outcomes = 1): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  await until(async () => (await events(cp, 'command.completed')).length >= outcomes, 'command.completed');
  return (await events(cp)).slice(before);
}

async function registered(extra: unknown[] = []): Promise<void> {
  await post(cp, [
    { type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } },
    {
      type: 'backlog.synced',
      target: TARGET,
      data: { tasks: [{ id: 'fix-typo', title: 'Fix the typo', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['README.md'] }] },
    },
    ...extra,
  ]);
}

describe('/leviathan slash commands', () => {
  it('help lists every command and reacts +1', async () => {
    expectAnswer();
    await deliver(cp, 'issue_comment', comment('/leviathan help'));
    const { reply, reaction } = await answered();
    for (const c of COMMANDS) expect(reply).toContain(c.usage);
    expect(reaction).toBe('+1');
    const [received] = await events(cp, 'command.received');
    expect(received).toMatchObject({
      actor: 'github:Codertocat',
      target: null, // not a target: a comment must not make it one
      data: { repository: TARGET, command: 'help', args: [], allowed: true, comment_url: `https://github.com/${TARGET}/issues/1#issuecomment-${COMMENT_ID}` },
    });
  });

  it('status replies with the status, reason and action', async () => {
    await registered();
    expectAnswer();
    await deliver(cp, 'issue_comment', comment('/leviathan status'));
    const { reply, reaction } = await answered();
    expect(reply).toMatch(/is \*\*paused\*\* \(`autonomy_disabled`\)/);
    expect(reply).toContain('Action: Set autonomy_enabled: true');
    expect(reply).toContain('Open Leviathan PRs: 0/2');
    expect(reaction).toBe('+1');
  });

  it('status on a repository that is not a target says so', async () => {
    expectAnswer();
    await deliver(cp, 'issue_comment', comment('/leviathan status'));
    const { reply, reaction } = await answered();
    expect(reply).toMatch(/not a Leviathan target/);
    expect(reaction).toBe('confused');
    expect(await targetsOf(cp)).toEqual([]);
  });

  it('pause pauses the target at once, with the reason and the actor', async () => {
    await registered();
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan pause release freeze'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('+1');
    expect(reply).toMatch(/Paused Leviathan on Codertocat\/Hello-World: release freeze/);
    const [paused] = await events(cp, 'target.paused');
    expect(paused).toMatchObject({ actor: 'github:Codertocat', data: { reason: 'release freeze', via: 'slash_command' } });
    const t = (await targetsOf(cp)).find((x) => x.id === TARGET)!;
    expect(t).toMatchObject({ status: 'paused', reason: 'paused_by_operator' });
  });

  it('resume lifts the pause', async () => {
    await registered([{ type: 'target.paused', target: TARGET, data: { reason: 'x' } }]);
    expectAnswer('maintain');
    await deliver(cp, 'issue_comment', comment('/leviathan resume'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('+1');
    expect(await events(cp, 'target.resumed')).toHaveLength(1);
    expect((await targetsOf(cp)).find((x) => x.id === TARGET)!.paused).toBeNull();
    // What the target does now, not a promise that tasks run: here autonomy was never enabled.
    const view = (await targetsOf(cp)).find((x) => x.id === TARGET)!;
    expect(reply).toContain(`Resumed Leviathan on ${TARGET}. It is now **${view.status}** (\`${view.reason}\`)`);
    expect(reply).not.toMatch(/Tasks run again/);
  });

  it('resume of a target that is not paused says so', async () => {
    await registered();
    expectAnswer('admin');
    await deliver(cp, 'issue_comment', comment('/leviathan resume'));
    const { reply, reaction } = await answered();
    expect(reply).toMatch(/is not paused/);
    expect(reaction).toBe('confused');
  });

  it('trigger without an executor here refuses and records nothing, as the API answers 501', async () => {
    await registered();
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan trigger fix-typo'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/no worker executor is configured/);
    expect(await events(cp, 'task.triggered')).toEqual([]);
  });

  it('trigger takes the path of POST /v1/tasks/trigger: the worker starts now', async () => {
    await cp.destroy();
    const executor = new FakeExecutor();
    cp = await startApp({ executor });
    await registered([{ type: 'autonomy.enabled', data: {} }]);
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan trigger fix-typo'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('+1');
    expect(executor.started.map((a) => a.task.id)).toEqual(['fix-typo']);
    expect(reply).toContain(`attempt \`${executor.started[0]!.attempt_id}\``);
    const [triggered] = await events(cp, 'task.triggered');
    expect(triggered).toMatchObject({ actor: 'github:Codertocat', data: { task_id: 'fix-typo', via: 'slash_command', comment_url: expect.any(String) } });
  });

  it('trigger blocked by a guardrail says why and starts nothing', async () => {
    await cp.destroy();
    const executor = new FakeExecutor();
    cp = await startApp({ executor });
    await registered(); // autonomy never enabled
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan trigger fix-typo'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/Could not run `fix-typo` now: .*\(`autonomy_disabled`\)/);
    expect(executor.started).toEqual([]);
  });

  it('trigger of a task the backlog does not have is refused', async () => {
    await registered();
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan trigger nope'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/no task `nope`.*`fix-typo`/);
    expect(await events(cp, 'task.triggered')).toHaveLength(0);
  });

  it('retry on a Leviathan PR re-triggers the task of its attempt', async () => {
    await cp.destroy();
    const executor = new FakeExecutor();
    cp = await startApp({ executor });
    await registered([{ type: 'autonomy.enabled', data: {} }, { type: 'attempt.created', target: TARGET, data: { attempt_id: 'att-9', task_id: 'fix-typo' } }, { type: 'attempt.failed', target: TARGET, data: { attempt_id: 'att-9', task_id: 'fix-typo', failure_type: 'test_failed', message: 'red' } }]);
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan retry', { onPr: true, prBody: 'Body\n\nLeviathan-Attempt: att-9' }));
    const { reaction, reply } = await answered();
    expect(reply).toMatch(/Started `fix-typo`/);
    expect(reaction).toBe('+1');
    const [triggered] = await events(cp, 'task.triggered');
    expect(triggered).toMatchObject({ data: { task_id: 'fix-typo', attempt_id: 'att-9', pr_number: 1 } });
  });

  it('retry on a PR Leviathan did not open says why it cannot', async () => {
    await registered();
    expectAnswer('write');
    await deliver(cp, 'issue_comment', comment('/leviathan retry', { onPr: true }));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/not opened by Leviathan/);
  });

  it('a refusal for triage permission is a polite comment, and changes nothing', async () => {
    await registered([{ type: 'target.paused', target: TARGET, data: { reason: 'x' } }]);
    const before = (await events(cp)).length;
    expectAnswer('triage');
    await deliver(cp, 'issue_comment', comment('/leviathan resume'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/^@Codertocat Sorry @Codertocat, .* needs write, maintain or admin permission/);
    const after = await completedTypes(before);
    expect(after.map((e) => e.type)).toEqual(['command.received', 'command.completed']);
    expect(after[0]!.data).toMatchObject({ allowed: false, permission: 'triage' });
  });

  it.each([
    ['pause', 'read'],
    ['trigger fix-typo', 'read'],
    ['retry', 'none'],
  ])('%s by someone with %s permission gets only a confused reaction, and changes nothing', async (cmd, permission) => {
    await registered();
    const before = (await events(cp)).length;
    expectReaction();
    gh.on('GET', `/repos/${TARGET}/collaborators/Codertocat/permission`, 200, { permission, role_name: permission });
    await deliver(cp, 'issue_comment', comment(`/leviathan ${cmd}`, { onPr: cmd === 'retry' }));
    const after = await completedTypes(before);
    expect(gh.effects).toEqual([`${TARGET}#1:reaction:confused`]);
    expect(after.map((e) => e.type)).toEqual(['command.received', 'command.completed']);
    expect(after[0]!.data).toMatchObject({ allowed: false, permission });
    expect(after[1]!.data).toMatchObject({ allowed: false, ok: false, answer: 'reaction' });
  });

  it('an unknown command gets a confused reaction and a pointer to help', async () => {
    expectAnswer();
    await deliver(cp, 'issue_comment', comment('/leviathan deploy'));
    const { reply, reaction } = await answered();
    expect(reaction).toBe('confused');
    expect(reply).toMatch(/don't know the command `deploy`.*\/leviathan help/);
  });

  it('ignores bots, including our own replies', async () => {
    const bot = comment('/leviathan pause');
    bot.comment.user = { ...bot.comment.user, login: 'leviathan[bot]', type: 'Bot' };
    expect((await deliver(cp, 'issue_comment', bot)).status).toBe(200);
    const renovate = comment('/leviathan help');
    renovate.comment.user = { ...renovate.comment.user, login: 'renovate[bot]', type: 'User' };
    await deliver(cp, 'issue_comment', renovate);
    await new Promise((r) => setTimeout(r, 100));
    expect(await events(cp)).toHaveLength(0);
  });

  it('ignores comments without a command', async () => {
    await deliver(cp, 'issue_comment', example('issue_comment', 'created'));
    await new Promise((r) => setTimeout(r, 50));
    expect(await events(cp)).toHaveLength(0);
  });

  it('runs a redelivered command once, without asking GitHub again', async () => {
    await registered();
    expectAnswer('write');
    const payload = comment('/leviathan pause');
    await deliver(cp, 'issue_comment', payload, { delivery: 'aaaaaaaa-0000-4000-8000-000000000001' });
    await until(async () => (await events(cp, 'command.completed')).length === 1, 'the outcome');
    await deliver(cp, 'issue_comment', payload, { delivery: 'aaaaaaaa-0000-4000-8000-000000000001' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await events(cp, 'command.received')).toHaveLength(1);
    expect(await events(cp, 'target.paused')).toHaveLength(1);
    expect(gh.effects.filter((e) => e.includes(':comment:'))).toHaveLength(1);
  });
});

describe('/leviathan slash commands: what the audit found', () => {
  /** A comment by someone GitHub does not associate with the repository (anyone, on a public one). */
  const byStranger = (body: string) => {
    const payload = comment(body);
    payload.comment.author_association = 'NONE';
    return payload;
  };

  it('does not run a command quoted in a code block', async () => {
    await registered();
    for (const body of [
      'To pause it, a maintainer can run:\n\n```\n/leviathan pause\n```',
      'Or with tildes:\n~~~sh\n/leviathan pause\n~~~',
      'Indented:\n\n    /leviathan pause',
      '> /leviathan pause\n\nWhy did you pause it?',
    ]) {
      await deliver(cp, 'issue_comment', comment(body));
    }
    await new Promise((r) => setTimeout(r, 150));
    expect((await events(cp)).map((e) => e.type)).not.toContain('command.received');
    expect(await events(cp, 'target.paused')).toEqual([]);
  });

  it("answers a stranger's write command with a reaction only, without asking GitHub their permission", async () => {
    await registered();
    const before = (await events(cp)).length;
    expectReaction();
    await deliver(cp, 'issue_comment', byStranger('/leviathan pause'));
    const [received, completed] = await completedTypes(before);
    expect(gh.effects).toEqual([`${TARGET}#1:reaction:confused`]);
    expect(await events(cp, 'target.paused')).toEqual([]);
    expect(received).toMatchObject({ type: 'command.received', data: { command: 'pause', allowed: false, author_association: 'NONE' } });
    expect(completed).toMatchObject({ type: 'command.completed', data: { allowed: false, answer: 'reaction' } });
  });

  it("answers a stranger's unknown command with a reaction only", async () => {
    expectReaction();
    await deliver(cp, 'issue_comment', byStranger('/leviathan deploy'));
    await completedTypes(0);
    expect(gh.effects).toEqual([`${TARGET}#1:reaction:confused`]);
  });

  it('answers a stranger at most once per issue within the cooldown', async () => {
    expectAnswer();
    await deliver(cp, 'issue_comment', byStranger('/leviathan help'));
    await completedTypes(0);
    for (const body of ['/leviathan status', '/leviathan deploy', '/leviathan pause']) await deliver(cp, 'issue_comment', byStranger(body));
    await completedTypes(0, 4);
    expect(gh.effects.map((e) => e.split(':')[1])).toEqual(['comment', 'reaction']);
    expect((await events(cp, 'command.completed')).map((e) => e.data.answer)).toEqual(['comment', 'none', 'none', 'none']);
  });

  it('keeps answering the repository\'s own people in full', async () => {
    await registered();
    for (let i = 0; i < 3; i++) expectAnswer(undefined, { token: i === 0 });
    for (let i = 0; i < 3; i++) await deliver(cp, 'issue_comment', comment('/leviathan status'));
    await completedTypes(0, 3);
    expect(gh.effects.filter((e) => e.includes(':comment:'))).toHaveLength(3);
  });

  it('says when it could not check the permission, and a redelivery then runs the pause', async () => {
    await registered();
    gh.installationToken(1);
    gh.on('GET', `/repos/${TARGET}/collaborators/Codertocat/permission`, 503, { message: 'Service Unavailable' });
    gh.on('POST', `/repos/${TARGET}/issues/1/comments`, 201, { id: 1 }, { effect: (b) => `${TARGET}#1:comment:${(b as { body: string }).body}` });
    gh.on('POST', `/repos/${TARGET}/issues/comments/${COMMENT_ID}/reactions`, 201, { id: 1 }, { effect: (b) => `${TARGET}#1:reaction:${(b as { content: string }).content}` });
    const payload = comment('/leviathan pause');
    const delivery = 'bbbbbbbb-0000-4000-8000-000000000002';
    await deliver(cp, 'issue_comment', payload, { delivery });
    const { reply, reaction } = await answered();
    expect(reply).toMatch(/could not check your permission on Codertocat\/Hello-World \(GitHub answered HTTP 503\), so I did not run `\/leviathan pause/);
    expect(reaction).toBe('confused');
    expect((await events(cp, 'command.received'))[0]!.data).toMatchObject({ allowed: false, permission_error: 'GitHub answered HTTP 503' });
    expect(await events(cp, 'command.completed')).toEqual([]);

    // The operator redelivers the webhook once GitHub is back: the pause is not lost.
    gh.effects.length = 0;
    expectAnswer('write', { token: false });
    await deliver(cp, 'issue_comment', payload, { delivery });
    await completedTypes(0);
    expect(await events(cp, 'target.paused')).toHaveLength(1);
    expect(await events(cp, 'command.received')).toHaveLength(1);
    expect(gh.effects.find((e) => e.includes(':comment:'))).toMatch(/Paused Leviathan on Codertocat\/Hello-World/);
  });

  it('finishes on redelivery a command that failed after command.received was stored', async () => {
    await registered();
    // The store refuses the pause once (a full disk, a database failover).
    const append = cp.store.append.bind(cp.store);
    let refused = false;
    cp.store.append = async (batch, opts) => {
      if (!refused && batch.some((e) => e.type === 'target.paused')) {
        refused = true;
        throw new Error('ENOSPC: no space left on device');
      }
      return append(batch, opts);
    };
    expectAnswer('write');
    const payload = comment('/leviathan pause');
    const delivery = 'cccccccc-0000-4000-8000-000000000003';
    await deliver(cp, 'issue_comment', payload, { delivery });
    const { reply, reaction } = await answered();
    expect(reply).toMatch(/Something went wrong running `pause`/);
    expect(reaction).toBe('confused');
    expect(await events(cp, 'target.paused')).toEqual([]);
    expect(await events(cp, 'command.completed')).toEqual([]);

    gh.effects.length = 0;
    expectAnswer('write', { token: false });
    await deliver(cp, 'issue_comment', payload, { delivery });
    await completedTypes(0);
    expect(await events(cp, 'target.paused')).toHaveLength(1);
    expect(gh.effects).toEqual([expect.stringMatching(/:comment:@Codertocat Paused Leviathan/), `${TARGET}#1:reaction:+1`]);
  });

  it('answers on redelivery a command whose reply GitHub refused', async () => {
    await registered();
    gh.installationToken(1);
    gh.on('POST', `/repos/${TARGET}/issues/1/comments`, 502, { message: 'Bad Gateway' });
    const payload = comment('/leviathan status');
    const delivery = 'dddddddd-0000-4000-8000-000000000004';
    await deliver(cp, 'issue_comment', payload, { delivery });
    await until(() => gh.pending().length === 0, 'the failed reply');
    await new Promise((r) => setTimeout(r, 100));
    expect(await events(cp, 'command.completed')).toEqual([]);

    expectAnswer(undefined, { token: false });
    await deliver(cp, 'issue_comment', payload, { delivery });
    const { reply } = await answered();
    expect(reply).toMatch(/is \*\*paused\*\*/);
    await completedTypes(0);
  });

  it('runs a command a person made through another GitHub App, and ignores those made through ours', async () => {
    expectAnswer();
    const viaOther = comment('/leviathan help');
    viaOther.comment.performed_via_github_app = { id: 999, slug: 'some-mobile-client' };
    await deliver(cp, 'issue_comment', viaOther);
    await answered();

    const viaOurs = comment('/leviathan pause');
    viaOurs.comment.performed_via_github_app = { id: Number(APP_ID), slug: 'leviathan' };
    await deliver(cp, 'issue_comment', viaOurs);
    await new Promise((r) => setTimeout(r, 150));
    expect((await events(cp, 'command.received')).map((e) => e.data.command)).toEqual(['help']);
  });
});
