// A Web Push service for the tests, on 127.0.0.1 (node's http and crypto only), standing in for
// the browser vendor's push service that headless Chromium lacks.
//
// `receiver.subscription()` makes a subscription as a browser would (a P-256 key pair, a 16-byte
// auth secret and an endpoint URL on this server). A POST to the endpoint is checked as a push
// service checks it (RFC 8030 headers, RFC 8292 VAPID: `Authorization: vapid t=<ES256 JWT>,
// k=<public key>` with `aud` = this origin), its body decrypted as the browser would (RFC 8291,
// `Content-Encoding: aes128gcm`), and answered 201. Every push lands in the subscription's inbox
// (`next()` waits for one); a push that fails a check is answered 400 and lands there too, with
// `error` set, so a test sees why.

import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import http from 'node:http';

const b64u = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Decrypts an `aes128gcm` Web Push body (RFC 8291 over RFC 8188) with the subscription's
 * private key (an ECDH object holding it) and auth secret; returns the plaintext Buffer.
 */
export function decryptAes128gcm(body, ecdh, authSecret) {
  if (body.length < 21) throw new Error(`body of ${body.length} bytes is shorter than the aes128gcm header`);
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  if (rs < 18) throw new Error(`record size ${rs} is below 18`);
  if (idlen !== 65) throw new Error(`keyid of ${idlen} bytes: Web Push puts the sender's 65-byte public key there`);
  const senderPublic = body.subarray(21, 21 + idlen);
  if (senderPublic[0] !== 4) throw new Error('the keyid is not an uncompressed P-256 point');
  const receiverPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiverPublic, senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonceBase = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const records = body.subarray(21 + idlen);
  if (!records.length) throw new Error('no record after the header');
  const out = [];
  for (let seq = 0, at = 0; at < records.length; seq += 1, at += rs) {
    const record = records.subarray(at, Math.min(at + rs, records.length));
    const last = at + rs >= records.length;
    if (record.length < 17) throw new Error(`record ${seq} of ${record.length} bytes is too short`);
    const nonce = Buffer.from(nonceBase);
    // The record's sequence number, XORed into the nonce as a big-endian number (fewer than
    // 2^32 records here, so its low four bytes).
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    // Content, then a delimiter (2 on the last record, 1 before), then zero padding.
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end -= 1;
    if (end < 0) throw new Error(`record ${seq} has no padding delimiter`);
    const want = last ? 2 : 1;
    if (plain[end] !== want) throw new Error(`record ${seq} ends with delimiter ${plain[end]}, expected ${want}`);
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out);
}

/** Checks a VAPID `Authorization` header; returns `{ claims, key }` or throws saying why. */
export function checkVapid(header, audience, expectedKey) {
  const m = /^vapid\s+(.*)$/i.exec(header || '');
  if (!m) throw new Error(`Authorization is not "vapid t=…, k=…": ${JSON.stringify(header)}`);
  const params = Object.fromEntries(
    m[1].split(',').map((part) => {
      const i = part.indexOf('=');
      return [part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim()];
    }),
  );
  const { t, k } = params;
  if (!t || !k) throw new Error('vapid Authorization without t= or k=');
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) throw new Error(`k is not an uncompressed P-256 key (${raw.length} bytes)`);
  if (expectedKey && k.replace(/=+$/, '') !== expectedKey) throw new Error(`k ${k} is not the server's key ${expectedKey}`);
  const parts = t.split('.');
  if (parts.length !== 3) throw new Error('t is not a JWS compact serialization');
  const head = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (head.alg !== 'ES256') throw new Error(`JWT alg ${head.alg}, expected ES256`);
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) }, format: 'jwk' });
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== 64) throw new Error(`ES256 signature of ${sig.length} bytes, expected 64 (r || s)`);
  const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) throw new Error('the JWT signature does not verify with k');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  if (claims.aud !== audience) throw new Error(`aud ${claims.aud}, expected ${audience}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600 + 60) throw new Error(`exp ${claims.exp} is not within the next 24 hours`);
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) throw new Error(`sub ${claims.sub} is not a mailto: or https: contact`);
  return { claims, key: k };
}

/** Starts the push service; `expectedVapidKey` (base64url) is the only signer it accepts. */
export async function startPushReceiver({ expectedVapidKey } = {}) {
  const subs = new Map();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const sub = subs.get(req.url);
      if (!sub) {
        res.writeHead(404).end();
        return;
      }
      const push = { headers: req.headers, at: Date.now(), payload: null, text: null, error: null, vapid: null };
      try {
        if (req.method !== 'POST') throw new Error(`method ${req.method}, expected POST`);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${req.headers['content-encoding']}, expected aes128gcm`);
        if (!/^\d+$/.test(req.headers.ttl || '')) throw new Error(`TTL header ${JSON.stringify(req.headers.ttl)} is not a number of seconds`);
        const topic = req.headers.topic;
        if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) throw new Error(`Topic ${JSON.stringify(topic)} is not 1–32 base64url characters`);
        const urgency = req.headers.urgency;
        if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency)) throw new Error(`Urgency ${urgency} is not one of RFC 8030's`);
        push.vapid = checkVapid(req.headers.authorization, origin, expectedVapidKey);
        const body = Buffer.concat(chunks);
        if (body.length > 4096) throw new Error(`body of ${body.length} bytes is over the 4096 a push service must take`);
        push.text = decryptAes128gcm(body, sub.ecdh, sub.auth).toString('utf8');
        push.payload = JSON.parse(push.text);
        res.writeHead(201, { Location: `${origin}/message/${randomBytes(8).toString('hex')}`, TTL: req.headers.ttl }).end();
      } catch (e) {
        push.error = e.message;
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end(e.message);
      }
      sub.inbox.push(push);
      for (const w of sub.waiters.splice(0)) w();
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${srv.address().port}`;
  return {
    origin,
    /** A new subscription: what `PushSubscription.toJSON()` gives, plus its inbox. */
    subscription() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const pathName = `/push/${randomBytes(12).toString('base64url')}`;
      const sub = { ecdh, auth, inbox: [], waiters: [], read: 0 };
      subs.set(pathName, sub);
      return {
        endpoint: `${origin}${pathName}`,
        expirationTime: null,
        keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) },
        inbox: sub.inbox,
        /** Waits for the next push not yet read (in order of arrival); resolves to it. */
        async next(timeoutMs = 30_000) {
          const deadline = Date.now() + timeoutMs;
          while (sub.read >= sub.inbox.length) {
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no push arrived at ${pathName} within ${timeoutMs} ms`);
            await new Promise((resolve) => {
              const t = setTimeout(resolve, left);
              sub.waiters.push(() => {
                clearTimeout(t);
                resolve();
              });
            });
          }
          return sub.inbox[sub.read++];
        },
      };
    },
    close() {
      srv.closeAllConnections?.();
      return new Promise((resolve) => srv.close(() => resolve()));
    },
  };
}
