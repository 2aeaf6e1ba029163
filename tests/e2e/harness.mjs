// End-to-end harness: starts the real backend (embedded defaults: SQLite, in-process queue and
// worker on the tiny model, mail to files) on a free port with a fresh data folder, drives Debian
// Chromium through playwright-core, and writes screenshots under target/e2e/screenshots.
//
// Run from the repository root:  node --test --test-concurrency=1 tests/e2e/tests/
// (this file lives in tests/e2e/, so the repository root is two folders up).
// The backend binary is `target/debug/backend` (scripts/e2e.sh builds it), or $SV_BACKEND.
// $SV_E2E_KEEP=1 keeps each test server's data folder for inspection.

import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHOTS = path.join(ROOT, 'target', 'e2e', 'screenshots');
const BACKEND = process.env.SV_BACKEND || path.join(ROOT, 'target', 'debug', 'backend');
const CHROMIUM = process.env.SV_CHROMIUM || '/usr/bin/chromium';

export const VIEWPORTS = {
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A GraphQL error from the test server, with its `extensions.code`. */
export class GqlError extends Error {
  constructor(errors) {
    super(errors.map((e) => `${e.extensions?.code || 'ERROR'}: ${e.message}`).join('; '));
    this.code = errors[0]?.extensions?.code;
    this.errors = errors;
  }
}

let counter = 0;
/** A unique handle/email stem for this run. */
export function unique(prefix = 'u') {
  counter += 1;
  return `${prefix}${Date.now().toString(36).slice(-5)}${counter}`;
}

/**
 * Starts a backend with its own data folder; resolves once `/readyz` answers 200.
 * Options: `webPush: true` turns Web Push on with a fresh VAPID key (EC P-256, PKCS#8 PEM in the
 * data folder; `server.vapidPublicKey` is its public key, base64url, uncompressed) and lets the
 * server push to http://127.0.0.1 endpoints; `env` adds or overrides environment variables.
 */
export async function startServer(name = 'e2e', { webPush = false, env: extraEnv = {} } = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), `sv-${name}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The test server sees none of the caller's APP_* settings but a few harmless ones.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APP_') || ENV_KEEP.has(k)));
  Object.assign(env, {
    APP_DATA_DIR: dataDir,
    APP_LISTEN: `127.0.0.1:${port}`,
    APP_LOG: process.env.APP_LOG || 'warn',
    // One browser, many members from one address: the per-address limits would get in the way.
    APP_REDEEM_PER_IP_PER_MINUTE: '1000',
    APP_LOGIN_PER_IP_PER_MINUTE: '1000',
    APP_LOGIN_PER_ACCOUNT_PER_MINUTE: '1000',
    APP_MAIL_REQUESTS_PER_IP_PER_HOUR: '1000',
    APP_SEARCHES_PER_MINUTE: '1000',
  });
  let vapidPublicKey = null;
  if (webPush) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = path.join(dataDir, 'vapid.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const { x, y } = publicKey.export({ format: 'jwk' });
    vapidPublicKey = Buffer.concat([Buffer.from([4]), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]).toString('base64url');
    Object.assign(env, {
      APP_VAPID_PRIVATE_KEY_FILE: keyFile,
      APP_VAPID_SUBJECT: 'mailto:ops@example.com',
      APP_PUSH_ALLOW_LOOPBACK_HTTP: 'true',
    });
  }
  Object.assign(env, extraEnv);
  const logPath = path.join(dataDir, 'server.log');
  const log = createWriteStream(logPath);
  const child = spawn(BACKEND, ['serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      throw new Error(`backend exited (${JSON.stringify(exited)}) before it was ready:\n${text.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`backend not ready at ${url} within 120 s (log: ${logPath})`);
    await sleep(200);
  }

  const server = {
    url,
    dataDir,
    logPath,
    /** The VAPID public key (base64url, uncompressed P-256) with `webPush: true`, else null. */
    vapidPublicKey,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        for (let i = 0; i < 100 && !exited; i += 1) await sleep(100);
        if (!exited) child.kill('SIGKILL');
      }
      if (!process.env.SV_E2E_KEEP) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
    },
    /** Runs an operator command (`backend <args>`) against this server's data; resolves to stdout. */
    cli(args, stdin) {
      return new Promise((resolve, reject) => {
        const p = execFile(BACKEND, args, { cwd: ROOT, env }, (err, stdout, stderr) => {
          if (err) reject(new Error(`backend ${args.join(' ')} failed: ${stderr || err.message}`));
          else resolve(stdout);
        });
        if (stdin !== undefined) p.stdin.end(stdin);
        else p.stdin.end();
      });
    },
    async mintInvite() {
      const out = await server.cli(['invites', 'mint', '--count', '1']);
      const code = out.trim().split('\n').pop().trim();
      if (!code) throw new Error('invites mint printed no code');
      return code;
    },
    /** Runs a GraphQL operation; resolves to `data`, throws `GqlError` on errors. */
    async api(query, variables = {}, token) {
      const headers = { 'Content-Type': 'application/json' };
      if (token) headers.Authorization = `Bearer ${token}`;
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      const body = await res.json();
      if (body.errors?.length) throw new GqlError(body.errors);
      return body.data;
    },
    /** Signs a member up (with a fresh code unless one is given); resolves to the AuthPayload. */
    async signUp({ username = unique('m'), password = 'correct horse battery staple', email, code, displayName, birthDate = '1990-04-12' } = {}) {
      const inviteCode = code || (await server.mintInvite());
      const data = await server.api(
        `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken expiresIn user { id username role } } }`,
        { input: { inviteCode, email: email || `${username}@example.com`, username, password, displayName, birthDate } },
      );
      return { ...data.signUp, password };
    },
    async logIn(login, password = 'correct horse battery staple') {
      const data = await server.api(
        `mutation($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken expiresIn user { id username role } } }`,
        { input: { login, password } },
      );
      return data.logIn;
    },
    /** Creates an admin with the operator command and signs in as them. */
    async createAdmin(username = unique('admin'), password = 'a long admin passphrase') {
      await server.cli(['users', 'create-admin', '--email', `${username}@example.com`, '--username', username], `${password}\n`);
      return { ...(await server.logIn(username, password)), password };
    },
    async setRole(adminToken, userId, role) {
      const data = await server.api(`mutation($id: ID!, $role: Role!) { setRole(userId: $id, role: $role) { id role } }`, { id: userId, role }, adminToken);
      return data.setRole;
    },
    /** The mails sent to `email` (their text, headers included), oldest first. */
    async mails(email) {
      const dir = path.join(dataDir, 'mail');
      const names = (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.eml'));
      // File names are random: order by when each was written.
      const files = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(dir, n))).mtimeMs })));
      files.sort((a, b) => a.t - b.t);
      const out = [];
      for (const { n } of files) {
        const text = await readFile(path.join(dir, n), 'utf8');
        if (text.toLowerCase().includes(`to: ${email.toLowerCase()}`) || text.toLowerCase().includes(`<${email.toLowerCase()}>`)) out.push(decodeMail(text));
      }
      return out;
    },
    /**
     * The newest `pathPrefix` link mailed to `email`, waiting for it: some mails (the password
     * reset) are sent after the request has been answered, so they arrive a moment later.
     */
    async mailLink(email, pathPrefix, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mails = await server.mails(email);
        for (const mail of mails.reverse()) {
          try {
            return linkIn(mail, pathPrefix);
          } catch {
            /* not this one */
          }
        }
        if (Date.now() > deadline) {
          throw new Error(`no ${pathPrefix} link mailed to ${email} within ${timeoutMs} ms; mails:\n${mails.join('\n---\n')}`);
        }
        await sleep(100);
      }
    },
    /** Polls a job until it is final; resolves to it. */
    async waitJob(token, jobId, timeoutMs = 240_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { job } = await server.api(`query($id: ID!) { job(id: $id) { id status progress error { code message } video { id status } } }`, { id: jobId }, token);
        if (!['QUEUED', 'RUNNING', 'MODERATING'].includes(job.status)) return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
        await sleep(500);
      }
    },
    /** Generates and publishes a video as the member of `token`; resolves to the video. */
    async publishedVideo(token, prompt = 'a red kite over green hills', caption) {
      const { createVideo } = await server.api(
        `mutation($input: CreateVideoInput!) { createVideo(input: $input) { id } }`,
        { input: { prompt, durationSeconds: 2 } },
        token,
      );
      const job = await server.waitJob(token, createVideo.id);
      if (job.status !== 'SUCCEEDED' || !job.video) throw new Error(`job ended ${job.status}: ${JSON.stringify(job.error)}`);
      const { publishVideo } = await server.api(
        `mutation($id: ID!, $caption: String) { publishVideo(id: $id, caption: $caption) { id status caption prompt author { id username } } }`,
        { id: job.video.id, caption: caption ?? prompt },
        token,
      );
      return publishVideo;
    },
  };
  return server;
}

// Variables of the caller's environment a test server inherits (nothing else of APP_*).
const ENV_KEEP = new Set(['APP_ORT_DYLIB_PATH', 'APP_INFERENCE_THREADS']);

/** Undoes quoted-printable soft breaks and escapes so links can be read out of a mail. */
function decodeMail(text) {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/** The first link in `mail` whose path starts with `pathPrefix`. */
export function linkIn(mail, pathPrefix) {
  const re = new RegExp(`https?://[^\\s"<>]+${pathPrefix.replace(/[/?]/g, (c) => '\\' + c)}[^\\s"<>]*`);
  const m = mail.match(re);
  if (!m) throw new Error(`no ${pathPrefix} link in mail:\n${mail}`);
  return m[0];
}

/** Debian Chromium, headless, with the flags this closed network needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
    ],
  });
}

/** A page in a fresh context with a phone or desktop viewport; page errors gather in `page.errors`. */
export async function newPage(browser, server, kind = 'desktop') {
  const context = await browser.newContext({ ...VIEWPORTS[kind], baseURL: server.url });
  const page = await context.newPage();
  page.kind = kind;
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`console.error: ${msg.text()}`);
  });
  // Generous: a 2-core CI machine also runs the generator in the same process.
  page.setDefaultTimeout(45_000);
  return page;
}

/** Signs `page` in with an AuthPayload's tokens (the only things the clients keep in storage). */
export async function signIn(page, auth) {
  if (page.url() === 'about:blank') await page.goto('/healthz');
  await page.evaluate(([a, r]) => {
    localStorage.setItem('sv.access', a);
    localStorage.setItem('sv.refresh', r);
  }, [auth.accessToken, auth.refreshToken]);
}

/**
 * Basic accessibility checks of what is on screen: every visible form control has a label (or
 * an aria-label), every visible button and link has a name, every image has an alt attribute,
 * ids are unique. Returns the problems found (empty when none).
 */
export async function a11yProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
    const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : ''}`;
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!visible(el)) continue;
      const named = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!named) problems.push(`unlabelled control ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('button, a[href], [role=tab]')) {
      if (!visible(el)) continue;
      const name = (el.getAttribute('aria-label') || el.textContent || el.querySelector('img[alt]')?.alt || '').trim();
      if (!name) problems.push(`nameless ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('img')) {
      if (!el.hasAttribute('alt')) problems.push(`image without alt ${el.src.slice(0, 60)}`);
    }
    const seen = new Set();
    for (const el of document.querySelectorAll('[id]')) {
      if (seen.has(el.id)) problems.push(`duplicate id ${el.id}`);
      seen.add(el.id);
    }
    return problems;
  });
}

/**
 * Writes a full-page screenshot `target/e2e/screenshots/<name>-<phone|desktop>.png`, after the
 * accessibility checks of the screen (their problems join `page.errors`, which tests assert empty).
 */
export async function shot(page, name) {
  for (const p of await a11yProblems(page)) page.errors.push(`a11y (${name}): ${p}`);
  await mkdir(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}-${page.kind || 'desktop'}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A cameo of `owner` waiting for review on `server`: a challenge, then a 3 s test pattern made by
 * ffmpeg in `dir`, uploaded as multipart. Returns `{ id, name, status, challengePhrase }`.
 */
export async function uploadPendingCameo(server, owner, name, dir) {
  const clipPath = path.join(dir, 'cameo.mp4');
  await promisify(execFile)('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=3:size=320x320:rate=15', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clipPath]);
  const { startCameoVerification: challenge } = await server.api('mutation { startCameoVerification { id } }', {}, owner.accessToken);
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({
      query: 'mutation($input: CreateCameoInput!) { createCameo(input: $input) { id name status challengePhrase } }',
      variables: { input: { challengeId: challenge.id, name, clip: null } },
    }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.input.clip'] }));
  form.append('0', new Blob([await readFile(clipPath)], { type: 'video/mp4' }), 'cameo.mp4');
  const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { Authorization: `Bearer ${owner.accessToken}` }, body: form });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`createCameo: ${JSON.stringify(body.errors)}`);
  return body.data.createCameo;
}
