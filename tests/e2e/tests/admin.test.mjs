// The admin moderation console at /admin, in headless Chromium against a real backend:
// a moderator removes a reported video through the console and it leaves the feeds; a plain
// member is refused; appeals, cameo verification, invites, users and the audit log work and are
// photographed on a phone and a desktop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, shot, unique, uploadPendingCameo } from '../harness.mjs';

let server;
let browser;
let admin;
let author;
let viewer;
let mod;
let video;
let cameo;
let tmp;
const waitEmail = `${unique('wait')}@example.com`;
const PROMPT = 'a paper boat drifting down a rainy street';

const TRENDING = 'query { feed(kind: TRENDING, first: 50) { nodes { id } } }';

async function trendingIds() {
  return (await server.api(TRENDING)).feed.nodes.map((v) => v.id);
}

/** A harness page that also records which request failed (the console error alone does not say). */
async function openPage(kind) {
  const page = await newPage(browser, server, kind);
  page.on('response', (r) => {
    if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return page;
}

/** Logs in through the console's own form. */
async function consoleLogIn(page, login, password) {
  await page.goto('/admin');
  await page.getByTestId('login-name').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/** A page already signed in (tokens from the API), at a console path. */
async function consolePage(kind, auth, route) {
  const page = await openPage(kind);
  // Open the console first: the harness's signIn would otherwise open /healthz, whose missing
  // favicon makes Chromium log a 404 now and then.
  await page.goto('/admin');
  await signIn(page, auth);
  await page.goto(route);
  return page;
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sv-admin-e2e-'));
  server = await startServer('admin');
  browser = await launchBrowser();
  admin = await server.createAdmin();
  [author, viewer, mod] = await Promise.all([server.signUp(), server.signUp(), server.signUp()]);
  await server.setRole(admin.accessToken, mod.user.id, 'MODERATOR');
  video = await server.publishedVideo(author.accessToken, PROMPT);
  await server.api(
    'mutation($v: ID!) { report(videoId: $v, reason: VIOLENCE, details: "shows a fight at the end") }',
    { v: video.id },
    viewer.accessToken,
  );
  // A second, later case (a member reported), so the queue has a next case to open.
  await server.api('mutation($u: ID!) { report(userId: $u, reason: HARASSMENT, details: "insults in every comment") }', { u: viewer.user.id }, author.accessToken);
  cameo = await uploadPendingCameo(server, viewer, 'Test Likeness', tmp);
  await server.api('mutation($e: String!) { joinWaitlist(email: $e) }', { e: waitEmail });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a moderator removes a reported video in the console and it leaves the feed', async () => {
  assert.ok((await trendingIds()).includes(video.id), 'the published video is trending before the decision');

  // The member web client shows it too (signed out, `/` is Trending).
  const client = await openPage('desktop');
  await client.goto('/');
  await client.locator(`[data-testid="video-card"][data-video-id="${video.id}"]`).waitFor();

  const page = await openPage('desktop');
  await consoleLogIn(page, mod.user.username, mod.password);
  await page.getByTestId('nav-queue').waitFor();
  assert.equal(await page.getByTestId('nav-audit').count(), 0, 'admin-only screens are hidden from a moderator');
  assert.equal(await page.getByTestId('nav-invites').count(), 0);

  const item = page.getByTestId('case-item').filter({ hasText: PROMPT });
  await item.waitFor();
  assert.equal(await page.getByTestId('case-item').count(), 2, 'the video case and the member case; the cameo verification is on its own page');
  await shot(page, 'admin-queue');
  await item.click();
  const view = page.getByTestId('case-view');
  await view.getByTestId('case-prompt').filter({ hasText: PROMPT }).waitFor();
  await view.getByTestId('case-report').filter({ hasText: 'VIOLENCE' }).filter({ hasText: 'shows a fight at the end' }).waitFor();
  await view.getByTestId('author-history').waitFor();
  assert.match(await view.getByTestId('case-author').innerText(), new RegExp(author.user.username));
  assert.match(await view.getByTestId('case-reasons').innerText(), /VIOLENCE/);
  await page.waitForFunction(() => document.querySelector('[data-testid="case-player"]')?.readyState >= 1);
  await shot(page, 'admin-case');

  await view.getByTestId('decide-note').fill('graphic violence');
  await view.getByTestId('decide-REMOVE').click();
  // The case leaves the list and the next one (the member case) opens.
  await item.waitFor({ state: 'detached' });
  await page.getByTestId('case-view').filter({ hasText: 'Member case' }).waitFor();
  assert.equal(await page.getByTestId('case-item').count(), 1);
  assert.match(await page.getByTestId('case-author').innerText(), new RegExp(viewer.user.username));
  assert.equal(await page.getByTestId('decide-REMOVE').count(), 0, 'REMOVE is not offered for a member');

  const { video: after } = await server.api('query($id: ID!) { video(id: $id) { status removalReason } }', { id: video.id }, author.accessToken);
  assert.equal(after.status, 'REMOVED');
  assert.equal(after.removalReason, 'graphic violence');
  assert.ok(!(await trendingIds()).includes(video.id), 'the removed video left TRENDING');

  await client.goto('/');
  await client.getByTestId('feed-list').waitFor();
  await client.waitForFunction(() => !document.querySelector('[data-testid="loading"]'));
  assert.equal(await client.locator(`[data-testid="video-card"][data-video-id="${video.id}"]`).count(), 0, 'the web client no longer shows it');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(client.errors, []);
  await page.context().close();
  await client.context().close();
});

test('a plain member is refused at /admin', async () => {
  const page = await openPage('phone');
  await consoleLogIn(page, viewer.user.username, viewer.password);
  const refusal = page.getByTestId('refusal');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /This console is for moderators and admins/);
  assert.equal(await page.getByTestId('case-list').count(), 0, 'no queue is shown');
  assert.equal(await page.getByTestId('nav-queue').count(), 0, 'no navigation is shown');
  // The API refuses it too.
  await assert.rejects(server.api('{ moderationQueue { nodes { id } } }', {}, viewer.accessToken), (e) => e.code === 'FORBIDDEN');
  await shot(page, 'admin-refused');
  // Log out brings the form back, and only the two tokens were ever kept.
  const keys = await page.evaluate(() => Object.keys(localStorage).sort());
  assert.deepEqual(keys, ['sv.access', 'sv.refresh']);
  await page.getByTestId('refusal-logout').click();
  await page.getByTestId('login-form').waitFor();
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an appeal is decided by an admin in the Appeals queue', async () => {
  const { video: v } = await server.api('query($id: ID!) { video(id: $id) { moderationCase { id } } }', { id: video.id }, author.accessToken);
  await server.api('mutation($c: ID!) { appeal(caseId: $c, message: "It is a staged pillow fight, nobody is hurt.") { id status } }', { c: v.moderationCase.id }, author.accessToken);

  // The moderator who removed it may not decide the appeal: the console says so instead of offering buttons.
  const own = await consolePage('desktop', mod, `/admin/appeals/${v.moderationCase.id}`);
  await own.getByTestId('case-own-appeal').waitFor();
  assert.equal(await own.getByTestId('decide-APPROVE').count(), 0);
  assert.deepEqual(own.errors, []);
  await own.context().close();

  for (const kind of ['phone', 'desktop']) {
    const page = await consolePage(kind, admin, '/admin/appeals');
    const item = page.getByTestId('case-item').filter({ hasText: PROMPT });
    await item.click();
    await page.getByTestId('appeal-message').filter({ hasText: 'staged pillow fight' }).waitFor();
    assert.match(await page.getByTestId('case-appeal').innerText(), /Remove/);
    await shot(page, 'admin-appeals');
    if (kind === 'desktop') {
      await page.getByTestId('decide-note').fill('staged, no harm');
      await page.getByTestId('decide-APPROVE').click();
      await page.getByTestId('queue-done').waitFor();
    }
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
  const { video: back } = await server.api('query($id: ID!) { video(id: $id) { status } }', { id: video.id }, author.accessToken);
  assert.equal(back.status, 'PUBLISHED', 'the upheld appeal restored the video');
});

test('a moderator verifies a cameo beside its challenge phrase', async () => {
  for (const kind of ['phone', 'desktop']) {
    const page = await consolePage(kind, mod, '/admin/cameos');
    const card = page.locator(`[data-testid="cameo-case"][data-cameo-id="${cameo.id}"]`);
    await card.waitFor();
    assert.equal(await card.getByTestId('cameo-phrase').innerText(), cameo.challengePhrase);
    assert.match(await card.innerText(), new RegExp(viewer.user.username));
    await page.waitForFunction(() => document.querySelector('[data-testid="cameo-clip"]')?.readyState >= 1);
    await shot(page, 'admin-cameos');
    if (kind === 'desktop') {
      await card.getByTestId('cameo-note').fill('matches the phrase');
      await card.getByTestId('cameo-approve').click();
      await card.waitFor({ state: 'detached' });
      await page.getByTestId('empty').waitFor();
    }
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
  const { cameo: c } = await server.api('query($id: ID!) { cameo(id: $id) { status reviewNote } }', { id: cameo.id }, viewer.accessToken);
  assert.equal(c.status, 'ACTIVE');
});

test('admins mint invites, grant the waitlist, manage members and read the audit log', async () => {
  const page = await consolePage('desktop', admin, '/admin/invites');
  // Mint two codes.
  await page.getByTestId('mint-count').fill('2');
  await page.getByTestId('mint-note').fill('for the press');
  await page.getByTestId('mint-submit').click();
  await page.getByTestId('minted-invite').nth(1).waitFor();
  const url = await page.getByTestId('minted-url').first().inputValue();
  assert.match(url, /\/join\?code=/);
  await shot(page, 'admin-invites');
  // Grant the waitlisted address: a code is mailed to it.
  await page.getByTestId('tab-waitlist').click();
  const row = page.locator(`[data-testid="waitlist-row"][data-email="${waitEmail}"]`);
  await row.getByTestId('waitlist-grant').click();
  await row.getByTestId('waitlist-url').waitFor();
  assert.ok((await server.mails(waitEmail)).length >= 1, 'the grant mailed an invite');
  await shot(page, 'admin-waitlist');
  // The invite tree (nobody invited by the admin's codes here: the author joined with an operator code).
  await page.getByTestId('tab-tree').click();
  await page.getByTestId('tree-username').fill(author.user.username);
  await page.getByTestId('tree-submit').click();
  await page.getByTestId('tree-root').waitFor();

  // Users: find the author, make them a moderator, and ban the viewer with a reason.
  await page.getByTestId('nav-users').click();
  await page.getByTestId('users-query').fill(author.user.username);
  await page.getByTestId('users-search').click();
  const authorRow = page.locator(`[data-testid="user-row"][data-username="${author.user.username}"]`);
  await authorRow.getByTestId('user-role').selectOption('MODERATOR');
  await authorRow.getByTestId('user-role-apply').click();
  await authorRow.getByTestId('user-role-apply').waitFor({ state: 'hidden' });
  await page.getByTestId('users-query').fill('');
  await page.getByTestId('users-search').click();
  const viewerRow = page.locator(`[data-testid="user-row"][data-username="${viewer.user.username}"]`);
  await viewerRow.getByTestId('user-ban').click();
  await viewerRow.getByTestId('ban-reason').fill('spam accounts');
  await viewerRow.getByTestId('ban-confirm').click();
  await viewerRow.getByTestId('user-status').filter({ hasText: 'banned' }).waitFor();
  await shot(page, 'admin-users');
  const { user } = await server.api('query($u: String!) { user(username: $u) { role } }', { u: author.user.username });
  assert.equal(user.role, 'MODERATOR');

  // The audit log has all of it.
  await page.getByTestId('nav-audit').click();
  const rows = page.getByTestId('audit-row');
  await rows.first().waitFor();
  const text = await page.getByTestId('audit-rows').innerText();
  for (const action of ['user.ban', 'user.set_role', 'waitlist.grant', 'invites.mint', 'case.resolve', 'case.decide_appeal']) {
    assert.ok(text.includes(action), `the audit log shows ${action}`);
  }
  await page.waitForFunction(() => !document.querySelector('[data-testid="toast"]')); // toasts would cover the table
  await shot(page, 'admin-audit');
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // The same screens on a phone.
  const phone = await consolePage('phone', admin, '/admin/invites');
  await phone.getByTestId('mint-submit').waitFor();
  await shot(phone, 'admin-invites');
  await phone.goto('/admin/users');
  await phone.getByTestId('user-row').first().waitFor();
  await shot(phone, 'admin-users');
  await phone.goto('/admin/audit');
  await phone.getByTestId('audit-row').first().waitFor();
  await shot(phone, 'admin-audit');
  await phone.goto('/admin/queue');
  await phone.getByTestId('case-item').first().waitFor();
  await shot(phone, 'admin-queue');
  await phone.getByTestId('case-item').first().click();
  await phone.getByTestId('decide-panel').waitFor();
  await shot(phone, 'admin-case');
  assert.deepEqual(phone.errors, []);
  await phone.context().close();
});

// Last in this file: it breaks the server's media folder for a while.
test('an admin retries a job the queue gave up on from the Failed jobs screen', async () => {
  const { rename, writeFile, unlink } = await import('node:fs/promises');
  const media = path.join(server.dataDir, 'media');
  const kept = path.join(server.dataDir, 'media-kept');
  // Every write fails while the media folder is a plain file: the job fails every delivery.
  await rename(media, kept);
  await writeFile(media, 'not a folder');
  let failed;
  try {
    const { createVideo } = await server.api('mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }', { i: { prompt: 'a lighthouse in a storm', durationSeconds: 1 } }, author.accessToken);
    failed = await server.waitJob(author.accessToken, createVideo.id);
  } finally {
    await unlink(media);
    await rename(kept, media);
  }
  assert.equal(failed.status, 'FAILED', JSON.stringify(failed));

  const page = await consolePage('desktop', admin, '/admin/jobs');
  const row = page.locator(`[data-testid="job-row"][data-job="${failed.id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /a lighthouse in a storm/);
  assert.match(await row.innerText(), /GENERATION_FAILED/);
  assert.match(await row.innerText(), new RegExp(author.user.username));
  await shot(page, 'admin-failed-jobs');
  await row.getByTestId('job-retry').click();
  await row.getByTestId('job-done').filter({ hasText: 'queued again' }).waitFor();
  const done = await server.waitJob(author.accessToken, failed.id);
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
  // Gone from the list on the next load; the audit log has the retry.
  await page.reload();
  await page.getByText('No failed jobs are waiting for a decision.').waitFor();
  const { auditLog } = await server.api('{ auditLog(first: 5) { edges { node { action subject } } } }', {}, admin.accessToken);
  assert.ok(auditLog.edges.some((e) => e.node.action === 'job.retry' && e.node.subject === `job:${failed.id}`));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
