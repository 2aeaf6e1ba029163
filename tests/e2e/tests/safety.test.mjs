// The member client's safety tools, in headless Chromium against a real backend: blocking and
// unblocking a member from their profile, reporting a comment, appealing a removal, and the
// public "was this clip made here?" check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, launchBrowser, newPage, signIn, shot } from '../harness.mjs';

let server;
let browser;
let tmp;
let admin;
let ann; // author
let bob; // viewer
let video; // Ann's published video

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sv-safety-e2e-'));
  server = await startServer('safety');
  browser = await launchBrowser();
  admin = await server.createAdmin();
  ann = await server.signUp({ displayName: 'Ann' });
  bob = await server.signUp({ displayName: 'Bob' });
  video = await server.publishedVideo(ann.accessToken, 'a lighthouse in a storm at night', 'Storm watch');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('block and unblock a member from their profile; report a comment', async () => {
  await server.api('mutation($id: ID!) { follow(userId: $id) { id } }', { id: ann.user.id }, bob.accessToken);
  const { commentOnVideo } = await server.api('mutation($v: ID!) { commentOnVideo(videoId: $v, body: "what a storm") { id } }', { v: video.id }, ann.accessToken);
  const page = await newPage(browser, server, 'desktop');
  await signIn(page, bob);

  // Report Ann's comment from the video page.
  await page.goto(`/v/${video.id}`);
  const comment = page.locator(`[data-testid="comment"][data-comment-id="${commentOnVideo.id}"]`);
  await comment.getByTestId('comment-report').click();
  await comment.getByTestId('report-reason').selectOption('HARASSMENT');
  await comment.getByTestId('report-submit').click();
  await page.getByTestId('toast').filter({ hasText: 'moderators will take a look' }).waitFor();
  const { moderationQueue } = await server.api('{ moderationQueue(first: 50) { nodes { subjectComment { id } reportCount } } }', {}, admin.accessToken);
  assert.ok(moderationQueue.nodes.some((c) => c.subjectComment?.id === commentOnVideo.id), 'the comment report reached the queue');

  // Block: a confirm step, then the profile shows the block and no Follow button.
  await page.goto(`/u/${ann.user.username}`);
  await page.getByTestId('follow').waitFor();
  await page.getByTestId('block').click();
  await page.getByTestId('block-confirm').click();
  await page.getByTestId('blocked').waitFor();
  assert.equal(await page.getByTestId('follow').count(), 0);
  await shot(page, 'profile-blocked');
  const blocked = await server.api('query($u: String!) { user(username: $u) { viewerBlocks followerCount } }', { u: ann.user.username }, bob.accessToken);
  assert.deepEqual(blocked.user, { viewerBlocks: true, followerCount: 0 });
  // Her video has left Bob's feeds.
  await page.goto('/?tab=trending');
  await page.getByTestId('feed-list').waitFor();
  assert.equal(await page.locator(`[data-testid="video-card"][data-video-id="${video.id}"]`).count(), 0);

  // Unblock: the Follow button is back.
  await page.goto(`/u/${ann.user.username}`);
  await page.getByTestId('unblock').click();
  await page.getByTestId('follow').waitFor();
  assert.deepEqual(page.errors, []);
});

test('the author of a removed video appeals it', async () => {
  const removed = await server.publishedVideo(ann.accessToken, 'a paper kite tangled in a tree', 'Kite');
  await server.api('mutation($v: ID!) { report(videoId: $v, reason: SPAM) }', { v: removed.id }, bob.accessToken);
  const { moderationQueue } = await server.api('{ moderationQueue(first: 50) { nodes { id subjectVideo { id } } } }', {}, admin.accessToken);
  const kase = moderationQueue.nodes.find((c) => c.subjectVideo?.id === removed.id);
  assert.ok(kase, 'the report opened a case');
  await server.api('mutation($id: ID!) { resolveCase(id: $id, action: REMOVE, note: "looks like spam") { id } }', { id: kase.id }, admin.accessToken);

  const page = await newPage(browser, server, 'phone');
  await signIn(page, ann);
  await page.goto(`/v/${removed.id}`);
  await page.getByText('Taken down: looks like spam').waitFor();
  await page.getByTestId('appeal-message').fill('It is my own kite, not an advert.');
  await shot(page, 'appeal');
  await page.getByTestId('appeal-submit').click();
  await page.getByTestId('appeal-sent').waitFor();
  const { moderationCase } = await server.api('query($id: ID!) { moderationCase(id: $id) { status appealMessage } }', { id: kase.id }, admin.accessToken);
  assert.deepEqual(moderationCase, { status: 'APPEALED', appealMessage: 'It is my own kite, not an advert.' });
  // Reloading shows the appeal as sent, with no second form.
  await page.reload();
  await page.getByTestId('appeal-sent').waitFor();
  assert.equal(await page.getByTestId('appeal-message').count(), 0);
  assert.deepEqual(page.errors, []);
});

test('anyone checks whether a clip was made here', async () => {
  // One of ours (the published file) and one from elsewhere (an ffmpeg test pattern).
  const { video: v } = await server.api('query($id: ID!) { video(id: $id) { url } }', { id: video.id });
  const ours = path.join(tmp, 'ours.mp4');
  await writeFile(ours, Buffer.from(await (await fetch(v.url)).arrayBuffer()));
  const theirs = path.join(tmp, 'theirs.mp4');
  await promisify(execFile)('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=2:size=320x320:rate=15', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-y', theirs]);

  const page = await newPage(browser, server, 'phone');
  await page.goto('/');
  await page.getByTestId('menu-toggle').click();
  await page.getByTestId('nav-check').click();
  await page.getByTestId('check-file').setInputFiles(ours);
  await page.getByTestId('check-submit').click();
  const result = page.getByTestId('check-result');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-from-us'), 'true');
  await result.getByRole('link', { name: 'Open the original video' }).waitFor();
  await shot(page, 'check');

  await page.getByTestId('check-file').setInputFiles(theirs);
  await page.getByTestId('check-submit').click();
  await page.locator('[data-testid="check-result"][data-from-us="false"]').waitFor();
  assert.match(await page.getByTestId('check-result').textContent(), /No sign/);
  assert.deepEqual(page.errors, []);
});

test('keyboard only: log in, switch feed tabs, like a video, log in to the console', async () => {
  const page = await newPage(browser, server, 'desktop');
  await page.goto('/login');
  // The first Tab reaches the skip link, which moves focus past the navigation.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  const focusIs = (testid) => page.evaluate((t) => document.activeElement?.dataset.testid === t, testid);
  for (let i = 0; i < 10 && !(await focusIs('login-input')); i += 1) await page.keyboard.press('Tab');
  assert.ok(await focusIs('login-input'), 'Tab reaches the log-in field');
  await page.keyboard.type(bob.user.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type('correct horse battery staple');
  await page.keyboard.press('Enter');
  await page.getByTestId('tab-for-you').waitFor();

  // Tabs: arrow keys move between For You, Following and Trending.
  await page.getByTestId('tab-for-you').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByTestId('tab-trending').getAttribute('aria-selected'), 'true');
  assert.ok(await focusIs('tab-trending'));
  const like = page.locator(`[data-testid="video-card"][data-video-id="${video.id}"] [data-testid="like"]`);
  await like.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector(`[data-video-id="${id}"] [data-testid="like"]`)?.getAttribute('aria-pressed') === 'true', video.id);

  // The console shares the session: it refuses Bob (a plain member); log out and sign in as
  // the admin, by keyboard too.
  await page.goto('/admin');
  await page.getByTestId('refusal').waitFor();
  await page.getByTestId('refusal-logout').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('login-name').focus();
  await page.keyboard.type(admin.user.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(admin.password);
  await page.keyboard.press('Enter');
  await page.getByTestId('nav-queue').waitFor();
  assert.deepEqual(page.errors, []);
});
