// The member web client at /, in headless Chromium against a real backend: a new member joins
// through an invite link, confirms their address, generates a video while watching its live
// progress, publishes it, and a follower finds it in their Following feed. Then the other
// screens are used and photographed on a phone and a desktop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, launchBrowser, newPage, signIn, shot, unique, linkIn } from '../harness.mjs';

let server;
let browser;
let follower; // F: exists before the test, follows A
let tmp;
const author = { username: unique('ann'), password: 'violet meadow lantern 42' };
author.email = `${author.username}@example.com`;
const PROMPT = 'a red fox trotting through fresh snow at dawn. Ann says "see you at the lake"';
const CAPTION = 'Fox in the snow, first try';
let videoId;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A screenshot from the top of the page, without a focus ring on whatever was last used. */
async function snap(page, name) {
  await page.evaluate(() => {
    document.activeElement?.blur?.();
    window.scrollTo(0, 0);
  });
  return shot(page, name);
}
const card = (page, id) => page.locator(`[data-testid="video-card"][data-video-id="${id}"]`);

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sv-web-e2e-'));
  server = await startServer('web');
  browser = await launchBrowser();
  follower = await server.signUp({ displayName: 'Fern Follower' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('join with an invite, verify, create with live progress, publish; a follower sees it', async () => {
  const code = await server.mintInvite();
  const page = await newPage(browser, server, 'phone');

  // Onboarding: the code from the link is filled in.
  await page.goto(`/join?code=${code}`);
  assert.equal(await page.getByTestId('join-code').inputValue(), code);
  await snap(page, 'join');
  await page.getByTestId('email-input').fill(author.email);
  await page.getByTestId('username-input').fill(author.username);
  await page.getByTestId('displayName-input').fill('Ann Author');
  await page.getByTestId('password-input').fill(author.password);
  await page.getByTestId('birthDate-input').fill('1990-04-12');
  await page.getByTestId('join-submit').click();
  await page.getByTestId('check-mail').waitFor();
  assert.equal(await page.getByTestId('check-mail-address').innerText(), author.email);
  await snap(page, 'check-mail');
  // Only the two tokens are kept in the browser.
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).sort()), ['sv.access', 'sv.refresh']);

  // The mailed verification link, opened in the page (on this server's address).
  const mails = await server.mails(author.email);
  assert.ok(mails.length >= 1, 'a verification mail was sent');
  const link = new URL(linkIn(mails[mails.length - 1], '/verify-email'));
  await page.goto(link.pathname + link.search);
  await page.getByTestId('verify-ok').waitFor();

  // F follows A.
  const { user: a } = await server.api('query($u: String!) { user(username: $u) { id } }', { u: author.username });
  await server.api('mutation($id: ID!) { follow(userId: $id) { id } }', { id: a.id }, follower.accessToken);

  // Create: the progress panel appears and changes while the job runs.
  await page.goto('/create');
  await page.getByTestId('prompt').fill(PROMPT);
  await page.getByTestId('duration').selectOption('4');
  await page.getByTestId('create-submit').click();
  await page.getByTestId('job-panel').waitFor();
  const seen = new Set();
  let shotTaken = false;
  const deadline = Date.now() + 150_000;
  while (!(await page.getByTestId('draft').count())) {
    const status = await page.getByTestId('job-status').innerText().catch(() => '');
    const pct = await page.getByTestId('job-percent').innerText().catch(() => '');
    if (status && status !== 'Connecting…') seen.add(`${status} | ${pct}`);
    if (!shotTaken && /Generating|Waiting/.test(status)) {
      await snap(page, 'create-progress');
      shotTaken = true;
    }
    const jobError = await page.getByTestId('job-error').count();
    assert.equal(jobError, 0, `the job failed: ${jobError && (await page.getByTestId('job-error').innerText())}`);
    assert.ok(Date.now() < deadline, `no draft within 150 s; seen: ${[...seen].join(', ')}`);
    await sleep(60);
  }
  // At least two states from the live updates, e.g. "Waiting" then "Generating: 40%".
  assert.ok(seen.size >= 2, `the progress panel changed while the job ran; seen: ${[...seen].join(', ')}`);
  assert.ok(shotTaken, 'the progress panel was photographed while it ran');
  const draft = page.getByTestId('draft');
  videoId = await draft.getAttribute('data-video-id');
  await page.waitForFunction(() => document.querySelector('[data-testid="draft"] video')?.readyState >= 1);
  await snap(page, 'draft');

  // Publish with a caption.
  await page.getByTestId('caption-input').fill(CAPTION);
  await page.getByTestId('publish').click();
  await page.getByTestId('published').waitFor();
  const { video } = await server.api('query($id: ID!) { video(id: $id) { status caption author { username } } }', { id: videoId });
  assert.equal(video.status, 'PUBLISHED');
  assert.equal(video.caption, CAPTION);
  assert.equal(video.author.username, author.username);

  // F, on a desktop, finds it in Following.
  const desk = await newPage(browser, server, 'desktop');
  await signIn(desk, follower);
  await desk.goto('/');
  await desk.getByTestId('tab-following').click();
  await desk.getByTestId('feed-following').waitFor();
  const c = card(desk, videoId);
  await c.waitFor();
  assert.equal(await c.getByTestId('caption').innerText(), CAPTION);
  assert.equal(await desk.getByTestId('tab-following').getAttribute('aria-selected'), 'true');
  // The video speaks its line: a sound badge, and the line as captions shown over the muted player.
  await c.getByTestId('has-sound').waitFor();
  await desk.waitForFunction(
    (id) => {
      const v = document.querySelector(`[data-video-id="${id}"] video`);
      const t = v && v.textTracks[0];
      return t && t.mode === 'showing' && t.cues && t.cues.length > 0;
    },
    videoId,
    { timeout: 15_000 },
  );
  const cue = await c.evaluate((el) => el.querySelector('video').textTracks[0].cues[0].text);
  assert.match(cue, /see you at the lake/);
  // Paused one second in, the line is on screen.
  await c.evaluate(
    (el) =>
      new Promise((done) => {
        const v = el.querySelector('video');
        v.addEventListener('seeked', done, { once: true });
        v.currentTime = 1.0;
      }),
  );
  await snap(desk, 'feed-following');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(desk.errors, []);
  await page.context().close();
  await desk.context().close();
});

test('feed, video page, profile, invites, cameos and settings on a phone and a desktop', async () => {
  assert.ok(videoId, 'the first test published a video');
  const authorAuth = await server.logIn(author.username, author.password);
  const clip = path.join(tmp, 'me.mp4');
  await promisify(execFile)('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=3:size=320x320:rate=15', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip]);

  for (const kind of ['phone', 'desktop']) {
    // Signed out: `/` is Trending with log in / join, and the join form.
    const anon = await newPage(browser, server, kind);
    await anon.goto('/');
    await card(anon, videoId).waitFor();
    assert.equal(await anon.getByTestId('tab-following').count(), 0, 'signed out: no member feeds');
    if (kind === 'desktop') {
      await anon.goto(`/join?code=${await server.mintInvite()}`);
      await anon.getByTestId('join-form').waitFor();
      await snap(anon, 'join');
    }
    assert.deepEqual(anon.errors, []);
    await anon.context().close();

    const page = await newPage(browser, server, kind);
    await signIn(page, follower);

    // For You: A's video is there for F.
    await page.goto('/');
    await page.getByTestId('feed-for-you').waitFor();
    await card(page, videoId).waitFor();
    assert.equal(await page.getByTestId('tab-for-you').getAttribute('aria-selected'), 'true');
    await snap(page, 'feed-for-you');

    // Video page: like, comment, lineage and provenance.
    await card(page, videoId).getByTestId('open-video').click();
    await page.getByTestId('video-page').waitFor();
    await page.getByTestId('lineage').waitFor();
    if (kind === 'desktop') {
      const like = page.getByTestId('like');
      await like.click();
      await page.locator('[data-testid="like"][aria-pressed="true"]').waitFor();
      assert.equal(await page.getByTestId('like-count').innerText(), '1');
      await page.getByTestId('comment-input').fill('Lovely light on the snow!');
      await page.getByTestId('comment-submit').click();
      await page.getByTestId('comment').filter({ hasText: 'Lovely light on the snow!' }).waitFor();
      // Tab order reaches the comment box from the like button with the keyboard alone.
      await like.focus();
      for (let i = 0; i < 8 && !(await page.evaluate(() => document.activeElement?.dataset.testid === 'comment-input')); i += 1) await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'comment-input');
    }
    await snap(page, 'video');

    // Profile of A, with the follow state F already has.
    await page.goto(`/u/${author.username}`);
    await page.getByTestId('profile').waitFor();
    await page.locator(`[data-testid="profile-video"][data-video-id="${videoId}"]`).waitFor();
    assert.equal(await page.getByTestId('follow').getAttribute('aria-pressed'), 'true');
    await snap(page, 'profile');

    // Invites: F's four codes with links (on the phone, reached through the menu).
    if (kind === 'phone') {
      await page.getByTestId('menu-toggle').click();
      await page.getByTestId('nav-invites').click();
      assert.equal(await page.getByTestId('menu-toggle').getAttribute('aria-expanded'), 'false');
    } else {
      await page.goto('/invites');
    }
    await page.getByTestId('invite').first().waitFor();
    assert.equal(await page.getByTestId('invite').count(), 4);
    assert.match(await page.getByTestId('invite-url').first().inputValue(), /\/join\?code=/);
    await page.getByTestId('invite-copy').first().click();
    await page.getByTestId('toast').first().waitFor();
    await snap(page, 'invites');

    // Cameos: make one through the form, recorded with the (fake) camera on the phone and
    // uploaded on the desktop; then approve a member for it.
    await page.goto('/cameos');
    await page.getByTestId('new-cameo').waitFor();
    await page.getByTestId('cameo-start').click();
    const phrase = await page.getByTestId('challenge-phrase').innerText();
    assert.ok(phrase.length > 5, 'a challenge phrase is shown');
    await snap(page, 'cameo-challenge');
    if (kind === 'phone') {
      assert.equal(await page.getByTestId('record-unsupported').count(), 0, 'this Chromium records H.264 MP4');
      await page.getByTestId('camera-on').click();
      await page.getByTestId('record').click();
      await sleep(2600);
      await page.getByTestId('record').click();
      await page.getByTestId('clip-status').filter({ hasText: 'Recorded' }).waitFor();
    } else {
      await page.getByTestId('cameo-file').setInputFiles(clip);
    }
    await page.getByTestId('cameo-name').fill(`Fern ${kind}`);
    await page.getByTestId('cameo-new-permission').selectOption('APPROVED');
    await page.getByTestId('cameo-submit').click();
    const made = page.locator('[data-testid="cameo"][data-status="PENDING_REVIEW"]').filter({ hasText: `Fern ${kind}` });
    await made.waitFor();
    await made.locator('summary').filter({ hasText: 'Approved members' }).click();
    await made.getByTestId('approve-username').fill(author.username);
    await made.getByTestId('approve-add').click();
    await made.getByTestId('approved-users').filter({ hasText: author.username }).waitFor();
    await snap(page, 'cameos');

    // Settings: steer For You with a sentence and read back how it was understood.
    await page.goto('/settings');
    await page.getByTestId('prefs-form').waitFor();
    await page.getByTestId('prefs-input').fill('more animals and cooking, fewer pranks');
    await page.getByTestId('prefs-submit').click();
    await page.getByTestId('prefs-summary').waitFor();
    assert.match(await page.getByTestId('prefs-summary').innerText(), /animal/);
    await snap(page, 'settings');

    assert.deepEqual(page.errors, []);
    assert.deepEqual(Object.keys(await page.evaluate(() => ({ ...localStorage }))).sort(), ['sv.access', 'sv.refresh']);
    await page.context().close();
  }

  // A's own profile (delete and remix switch) and drafts, and the check-mail / progress / draft
  // screens on the desktop: a second job, started through the API and watched at /create?job=.
  const desk = await newPage(browser, server, 'desktop');
  await signIn(desk, authorAuth);
  await desk.goto(`/u/${author.username}`);
  await desk.getByTestId('remix-allowed').first().waitFor();
  await desk.getByTestId('drafts-link').waitFor();
  await snap(desk, 'profile-own');
  const { createVideo: job } = await server.api('mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }', { i: { prompt: 'a lighthouse in a storm at night', durationSeconds: 4, aspectRatio: 'LANDSCAPE' } }, authorAuth.accessToken);
  await desk.goto(`/create?job=${job.id}`);
  await desk.getByTestId('job-panel').waitFor();
  await desk.waitForFunction(() => /Generating|Waiting/.test(document.querySelector('[data-testid="job-status"]')?.textContent || ''), null, { timeout: 60_000 });
  await snap(desk, 'create-progress');
  await desk.getByTestId('draft').waitFor({ timeout: 150_000 });
  await desk.waitForFunction(() => document.querySelector('[data-testid="draft"] video')?.readyState >= 1);
  await snap(desk, 'draft');
  await desk.goto('/drafts');
  await desk.locator(`[data-testid="draft-item"][data-video-id="${job.id}"]`).waitFor();
  await snap(desk, 'drafts');
  assert.deepEqual(desk.errors, []);
  await desk.context().close();

  // The check-mail screen on a desktop: one more sign-up through the form.
  const join = await newPage(browser, server, 'desktop');
  const code = await server.mintInvite();
  const name = unique('bo');
  await join.goto(`/join?code=${code}`);
  await join.getByTestId('email-input').fill(`${name}@example.com`);
  await join.getByTestId('username-input').fill(name);
  await join.getByTestId('password-input').fill('quiet harbour morning 7');
  await join.getByTestId('birthDate-input').fill('1990-04-12');
  await join.getByTestId('join-submit').click();
  await join.getByTestId('check-mail').waitFor();
  await join.getByTestId('resend').click();
  await join.getByTestId('resend-result').filter({ hasText: 'Sent again' }).waitFor();
  await snap(join, 'check-mail');
  assert.deepEqual(join.errors, []);
  await join.context().close();
});

test('readable errors: a used invite code and a refused prompt', async () => {
  const page = await newPage(browser, server, 'phone');
  // A code that cannot be used says so next to the form.
  await page.goto('/join?code=NOTAREALCODE');
  await page.getByTestId('email-input').fill(`${unique('x')}@example.com`);
  await page.getByTestId('username-input').fill(unique('x'));
  await page.getByTestId('password-input').fill('quiet harbour morning 7');
  await page.getByTestId('birthDate-input').fill('1990-04-12');
  await page.getByTestId('join-submit').click();
  await page.getByTestId('form-error').filter({ hasText: 'invite code' }).waitFor();
  // A prompt that breaks the content policy shows its reasons, and no job starts.
  await signIn(page, follower);
  await page.goto('/create');
  await page.getByTestId('prompt').fill('Taylor Swift dancing on a table');
  await page.getByTestId('create-submit').click();
  const err = page.getByTestId('form-error').filter({ hasText: 'PUBLIC_FIGURE' });
  await err.waitFor();
  assert.equal(await page.getByTestId('job-panel').count(), 0);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('extend a published video with a shot, then stitch two drafts into one captioned video', async () => {
  const member = await server.signUp({ displayName: 'Eve Extender' });
  const token = member.accessToken;
  const draft = async (prompt) => {
    const { createVideo } = await server.api('mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }', { i: { prompt, durationSeconds: 1, aspectRatio: 'SQUARE', audio: 'SILENT' } }, token);
    const job = await server.waitJob(token, createVideo.id);
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job));
    return job.video.id;
  };
  const first = await draft('a blue boat on a calm lake');
  await server.api('mutation($id: ID!) { publishVideo(id: $id) { id } }', { id: first }, token);
  const second = await draft('a red kite over a green hill');

  const page = await newPage(browser, server, 'phone');
  await signIn(page, member);
  // Extend: from the video's page, one new shot after its second.
  await page.goto(`/v/${first}`);
  await page.getByTestId('extend').click();
  await page.getByTestId('extend-source').waitFor();
  const row = page.getByTestId('shot-row');
  assert.equal(await row.count(), 1);
  assert.ok(await row.first().getByTestId('shot-transition').isVisible(), 'the first new shot follows the video: it has a transition');
  await row.first().getByTestId('shot-prompt').fill('the boat reaches a stony shore');
  await row.first().getByTestId('shot-seconds').selectOption('1');
  await row.first().getByTestId('shot-transition').selectOption('CROSSFADE');
  assert.equal(await page.getByTestId('shot-total').innerText(), "2 s with the video's 1 s of 60 s");
  await snap(page, 'extend');
  await page.getByTestId('extend-submit').click();
  await page.getByTestId('job-panel').waitFor();
  const extendJob = new URL(page.url()).searchParams.get('job');
  await page.getByTestId('draft').waitFor({ timeout: 150_000 });
  const { job: extended } = await server.api('query($id: ID!) { job(id: $id) { durationSeconds shots { prompt transition } video { id remixOf { id } } } }', { id: extendJob }, token);
  assert.equal(extended.durationSeconds, 2);
  assert.deepEqual(extended.shots.map((x) => x.transition), ['CUT', 'CROSSFADE']);
  assert.equal(extended.shots[1].prompt, 'the boat reaches a stony shore');
  assert.equal(extended.video.remixOf.id, first, 'the continuation is a remix of the video');

  // Stitch: the kite, then the continuation, ticked in that order on the drafts page.
  await page.goto('/drafts');
  const item = (id) => page.locator(`[data-testid="draft-item"][data-video-id="${id}"]`);
  await item(second).waitFor();
  // A storyboard draft lists its shots; a clip of one shot does not.
  const board = item(extended.video.id).getByTestId('draft-storyboard');
  assert.equal(await board.locator('.badge').innerText(), 'Storyboard · 2 shots · 2 s');
  assert.deepEqual(await board.locator('li').allInnerTexts(), ['a blue boat on a calm lake (1 s)', 'the boat reaches a stony shore (1 s)']);
  assert.equal(await item(second).getByTestId('draft-storyboard').count(), 0);
  const submit = page.getByTestId('stitch-submit');
  assert.ok(await submit.isDisabled(), 'nothing to stitch yet');
  await item(second).getByTestId('stitch-pick').check();
  await item(extended.video.id).getByTestId('stitch-pick').check();
  assert.equal(await item(second).locator('label', { hasText: 'Stitch' }).innerText(), 'Stitch (1)');
  assert.equal(await item(extended.video.id).locator('label', { hasText: 'Stitch' }).innerText(), 'Stitch (2)');
  assert.equal(await page.getByTestId('stitch-summary').innerText(), '2 drafts, 3 s of 60 s');
  await page.getByTestId('stitch-caption').fill('kite, then boat');
  await snap(page, 'drafts-stitch');
  await submit.click();
  await page.getByTestId('job-panel').waitFor();
  const stitchJob = new URL(page.url()).searchParams.get('job');
  assert.ok(stitchJob, 'the stitch job is in the URL');
  await page.getByTestId('draft').waitFor({ timeout: 150_000 });
  const { job: stitched } = await server.api('query($id: ID!) { job(id: $id) { durationSeconds shots { durationSeconds } video { id caption status } } }', { id: stitchJob }, token);
  assert.equal(stitched.durationSeconds, 3);
  assert.equal(stitched.shots.length, 3, 'the kite, then the boat and its new shot');
  assert.deepEqual({ caption: stitched.video.caption, status: stitched.video.status }, { caption: 'kite, then boat', status: 'DRAFT' });
  // Its page names the drafts it joins, in order.
  await page.goto(`/v/${stitched.video.id}`);
  const parts = page.getByTestId('parts').getByTestId('video-tile');
  await parts.first().waitFor();
  assert.deepEqual(await parts.evaluateAll((els) => els.map((e) => e.dataset.videoId)), [second, extended.video.id]);
  await snap(page, 'stitched-video');

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('log in, remix with lineage, report, cancel, notifications, log out, password reset, waitlist', async () => {
  assert.ok(videoId, 'the first test published a video');
  const page = await newPage(browser, server, 'phone');
  // A wrong password is said next to the form; the right one goes on to `next`.
  await page.goto('/login?next=/invites');
  await page.getByTestId('login-input').fill(follower.user.username);
  await page.getByTestId('password-input').fill('not the password at all');
  await page.getByTestId('login-submit').click();
  await page.locator('[data-testid="form-error"]:visible').waitFor();
  await page.getByTestId('password-input').fill(follower.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('invite').first().waitFor();
  assert.equal(new URL(page.url()).pathname, '/invites');

  // Remix A's video from its page: the source is shown, and the published remix links back.
  await page.goto(`/v/${videoId}`);
  await page.getByTestId('remix').click();
  await page.getByTestId('remix-source').waitFor();
  await page.getByTestId('prompt').fill('at night under the northern lights');
  await page.getByTestId('create-submit').click();
  await page.getByTestId('draft').waitFor({ timeout: 150_000 });
  await page.getByTestId('publish').click();
  await page.getByTestId('published').getByRole('link').click();
  await page.getByTestId('lineage').locator(`[data-testid="video-tile"][data-video-id="${videoId}"]`).waitFor();

  // Report A's video.
  await page.goto(`/v/${videoId}`);
  await page.getByTestId('report').waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390, 'the video page fits a phone: no sideways scrolling');
  await page.getByTestId('report').click();
  await page.getByTestId('report-reason').selectOption('SPAM');
  await page.getByTestId('report-details').fill('the same clip posted again and again');
  await page.getByTestId('report-submit').click();
  await page.getByTestId('toast').filter({ hasText: 'moderators' }).waitFor();

  // Cancel a job while it waits or runs.
  await page.goto('/create');
  await page.getByTestId('prompt').fill('a slow river through a canyon');
  await page.getByTestId('create-submit').click();
  await page.getByTestId('job-cancel').click();
  await page.getByTestId('job-error').filter({ hasText: 'Cancelled' }).waitFor();

  // A has notifications (likes, comments, follows, the remix); mark them read.
  const notes = await newPage(browser, server, 'desktop');
  await signIn(notes, await server.logIn(author.username, author.password));
  await notes.goto('/notifications');
  await notes.getByTestId('notification').first().waitFor();
  await notes.getByTestId('nav-unread').waitFor();
  await snap(notes, 'notifications');
  await notes.getByTestId('mark-read').click();
  await notes.getByTestId('nav-unread').waitFor({ state: 'detached' });
  assert.deepEqual(notes.errors, []);
  await notes.context().close();

  // Log out: the tokens are gone and the signed-out navigation is back.
  await page.goto('/');
  await page.getByTestId('menu-toggle').click();
  await page.getByTestId('logout').click();
  await page.getByTestId('menu-toggle').click();
  await page.getByTestId('nav-login').waitFor();
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);

  // Forgot password → the mailed link → a new password that then logs in.
  await page.goto('/forgot-password');
  await page.getByTestId('email-input').fill(author.email);
  await page.getByTestId('forgot-submit').click();
  await page.getByTestId('forgot-sent').waitFor();
  // The reset mail is sent after the answer (which must not tell whether the address has an
  // account), so wait for it.
  const link = new URL(await server.mailLink(author.email, '/reset-password'));
  await page.goto(link.pathname + link.search);
  author.password = 'copper kettle morning 19';
  await page.getByTestId('password-input').fill(author.password);
  await page.getByTestId('again-input').fill(author.password);
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('reset-ok').waitFor();
  assert.ok(await server.logIn(author.username, author.password));

  // The waitlist.
  await page.goto('/waitlist');
  await page.getByTestId('email-input').fill(`${unique('later')}@example.com`);
  await page.getByTestId('waitlist-submit').click();
  await page.getByTestId('waitlist-ok').waitFor();

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('storyboard: a world and shots, reordered and checked, made into one video', async () => {
  const member = await server.signUp({ displayName: 'Sam Storyboard' });
  const page = await newPage(browser, server, 'phone');
  await signIn(page, member);
  await page.goto('/create');
  await page.getByTestId('create-form').waitFor();

  // Storyboard mode: the prompt becomes the world, Length gives way to two shot rows.
  const toggle = page.getByTestId('storyboard-toggle');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  assert.ok(await page.getByTestId('duration').isHidden(), 'the single length control hides');
  assert.equal(await page.getByTestId('prompt').evaluate((el) => el.labels[0].textContent), 'World');
  const rows = page.getByTestId('shot-row');
  assert.equal(await rows.count(), 2);
  const prompts = () => page.getByTestId('shot-prompt').evaluateAll((els) => els.map((e) => e.value));
  const total = page.getByTestId('shot-total');

  await page.getByTestId('prompt').fill('a small red ball');
  await rows.nth(0).getByTestId('shot-prompt').fill('the ball on green grass in a sunny park');
  await rows.nth(0).getByTestId('shot-seconds').selectOption('2');
  assert.ok(await rows.nth(0).getByTestId('shot-transition').isHidden(), 'the first shot has no transition');
  await rows.nth(1).getByTestId('shot-prompt').fill('the ball on a yellow sandy beach');
  await rows.nth(1).getByTestId('shot-seconds').selectOption('2');
  await rows.nth(1).getByTestId('shot-transition').selectOption('CROSSFADE');
  await page.getByTestId('add-shot').click();
  await rows.nth(2).getByTestId('shot-prompt').fill('the ball bouncing down a stone staircase');
  await rows.nth(2).getByTestId('shot-seconds').selectOption('3');
  assert.equal(await total.innerText(), '7 s of 60 s');

  // Reorder: the third shot up, then down again.
  const grass = 'the ball on green grass in a sunny park';
  const beach = 'the ball on a yellow sandy beach';
  const stairs = 'the ball bouncing down a stone staircase';
  await rows.nth(2).getByTestId('shot-up').click();
  assert.deepEqual(await prompts(), [grass, stairs, beach]);
  assert.equal(await rows.nth(2).getByTestId('shot-transition').inputValue(), 'CROSSFADE', 'a shot keeps its transition when it moves');
  assert.ok(await rows.nth(0).getByTestId('shot-up').isDisabled());
  await snap(page, 'create-storyboard');
  await rows.nth(1).getByTestId('shot-down').click();
  assert.deepEqual(await prompts(), [grass, beach, stairs]);

  // Over 60 s: the total warns, and the server's message is shown when sent anyway.
  for (let i = 3; i < 12; i += 1) {
    await page.getByTestId('add-shot').click();
    await rows.nth(i).getByTestId('shot-prompt').fill(`the ball rolls a little further, part ${i + 1}`);
    await rows.nth(i).getByTestId('shot-seconds').selectOption('8');
  }
  assert.ok(await page.getByTestId('add-shot').isDisabled(), 'no more than 12 shots');
  assert.equal(await total.innerText(), '79 s of 60 s: 19 s too long');
  assert.match(await total.getAttribute('class'), /\bover\b/);
  await page.getByTestId('create-submit').click();
  await page.getByTestId('form-error').filter({ hasText: 'at most 60 seconds' }).waitFor();
  assert.equal(await page.getByTestId('job-panel').count(), 0);

  // Back to the two shots wanted: remove from the end (the staircase last).
  while ((await rows.count()) > 2) await rows.last().getByTestId('shot-remove').click();
  assert.deepEqual(await prompts(), [grass, beach]);
  assert.equal(await total.innerText(), '4 s of 60 s');
  assert.ok(await rows.nth(0).getByTestId('shot-remove').isEnabled());

  // Single video and back: the shots are kept.
  await toggle.click();
  assert.ok(await page.getByTestId('duration').isVisible());
  assert.ok(await page.getByTestId('storyboard').isHidden());
  assert.equal(await page.getByTestId('prompt').evaluate((el) => el.labels[0].textContent), 'Prompt');
  await toggle.click();
  assert.deepEqual(await prompts(), [grass, beach]);

  // Every status line the panel shows, as it changes (the job is quick; the panel reports shots).
  await page.evaluate(() => {
    window.__statuses = [];
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="job-status"]');
      if (el) window.__statuses.push(el.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('create-submit').click();
  await page.getByTestId('job-panel').waitFor();
  const jobId = new URL(page.url()).searchParams.get('job');
  assert.ok(jobId, 'the job is in the URL');
  await page.getByTestId('job-storyboard').filter({ hasText: 'Storyboard · 2 shots · 4 s' }).waitFor();
  await page.getByTestId('draft').waitFor({ timeout: 150_000 });
  const statuses = await page.evaluate(() => window.__statuses);
  assert.ok(statuses.some((s) => /shot 1 of 2, \d+%/.test(s)), `shot 1 reported: ${JSON.stringify(statuses)}`);
  assert.ok(statuses.some((s) => /shot 2 of 2, \d+%/.test(s)), `shot 2 reported: ${JSON.stringify(statuses)}`);
  const { job } = await server.api('query($id: ID!) { job(id: $id) { status durationSeconds shots { prompt durationSeconds transition } } }', { id: jobId }, member.accessToken);
  assert.equal(job.status, 'SUCCEEDED');
  assert.deepEqual(job.shots, [
    { prompt: grass, durationSeconds: 2, transition: 'CUT' },
    { prompt: beach, durationSeconds: 2, transition: 'CROSSFADE' },
  ]);
  // One video as long as its shots.
  const seconds = await page.getByTestId('draft').evaluate(
    (el) =>
      new Promise((done) => {
        const v = el.querySelector('video');
        if (v.readyState >= 1) done(v.duration);
        else v.addEventListener('loadedmetadata', () => done(v.duration), { once: true });
      }),
  );
  assert.ok(Math.abs(seconds - 4) <= 0.2, `the storyboard's video lasts about 4 s, not ${seconds}`);
  assert.ok(await page.getByTestId('job-storyboard').isVisible());

  assert.deepEqual(page.errors, []);
  await page.context().close();
});
