import { describe, expect, it } from 'vitest';
import { newSessionId, sessionTokenFor, sessionVerifier, signLink, signSession, verifyLink, verifySession } from './tokens.js';

const secret = 's'.repeat(40);

const DAY = 24 * 60 * 60_000;

describe('session tokens', () => {
  it('round-trips and refuses tampering or another secret', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signSession(secret, id, 10_000);
    expect(verifySession(secret, token, 0)).toEqual({ ok: true, sessionId: id, expiresAt: 10_000 });
    expect(verifySession('t'.repeat(40), token, 0)).toEqual({ ok: false, reason: 'forged' });
    const other = newSessionId(1_780_000_000_000);
    expect(verifySession(secret, token.replace(id, other), 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifySession(secret, 'garbage', 0)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('expire, and a later expiry cannot be written into one', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signSession(secret, id, 10_000);
    expect(verifySession(secret, token, 10_001)).toEqual({ ok: false, reason: 'expired' });
    const [kind, sid, , mac] = token.split('.');
    expect(verifySession(secret, `${kind}.${sid}.${(10 ** 15).toString(36)}.${mac}`, 10_001)).toEqual({ ok: false, reason: 'forged' });
    // The format before expiry existed (`s.<id>.<mac>`) names no expiry and is refused.
    const legacyMac = mac!;
    expect(verifySession(secret, `s.${id}.${legacyMac}`, 0)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('are answered as they came while fresh, and renewed once a day of their life has passed', () => {
    const id = newSessionId(1_780_000_000_000);
    const ttl = 30 * DAY;
    const now = 1_780_000_000_000;
    const token = signSession(secret, id, now + ttl);
    const given = { token, sessionId: id, expiresAt: now + ttl };
    expect(sessionTokenFor(secret, id, given, now + DAY / 2, ttl)).toBe(token);
    const renewed = sessionTokenFor(secret, id, given, now + 2 * DAY, ttl);
    expect(renewed).not.toBe(token);
    expect(verifySession(secret, renewed, now + 2 * DAY)).toEqual({ ok: true, sessionId: id, expiresAt: now + 2 * DAY + ttl });
    // Another session's token is never echoed (an adoption answers with the adopted session).
    const other = newSessionId(now);
    expect(verifySession(secret, sessionTokenFor(secret, other, given, now, ttl), now)).toMatchObject({ ok: true, sessionId: other });
  });
});

describe('the session verifier', () => {
  it('answers as verifySession does, on a token it has seen and on one it has not', () => {
    const check = sessionVerifier(secret, 2);
    const id = newSessionId(1_780_000_000_000);
    const token = signSession(secret, id, 10_000);
    for (let seen = 0; seen < 2; seen++) {
      expect(check(token, 0)).toEqual({ ok: true, sessionId: id, expiresAt: 10_000 });
      // Remembered or not, a token past its expiry is refused.
      expect(check(token, 10_001)).toEqual({ ok: false, reason: 'expired' });
    }
    const forged = signSession('t'.repeat(40), id, 10_000);
    expect(check(forged, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(check(forged, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(check('garbage', 0)).toEqual({ ok: false, reason: 'malformed' });
  });
  it('keeps at most as many tokens as it is told, and still verifies the ones it forgot', () => {
    const check = sessionVerifier(secret, 2);
    const ids = [1, 2, 3].map(() => newSessionId(1_780_000_000_000));
    const tokens = ids.map((id) => signSession(secret, id, 10_000));
    tokens.forEach((token, index) => expect(check(token, 0)).toMatchObject({ ok: true, sessionId: ids[index] }));
    expect(check(tokens[0]!, 0)).toMatchObject({ ok: true, sessionId: ids[0] });
  });
});

describe('session ids', () => {
  it('sort as text in the order they were minted, and differ when minted in the same millisecond', () => {
    const times = [0, 1, 63, 64, 4_095, 4_096, 1_780_000_000_000, 1_780_000_000_001, 1_780_000_060_000, 2 ** 42 - 1];
    const ids = times.map((time) => newSessionId(time));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Byte order: how SQLite compares the id column (PostgreSQL too, in a C-collated database).
    expect([...ids].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))).toEqual(ids);
    const sameMillisecond = Array.from({ length: 1_000 }, () => newSessionId(1_780_000_000_000));
    expect(new Set(sameMillisecond).size).toBe(1_000);
    expect(new Set(sameMillisecond.map((id) => id.slice(0, 7))).size).toBe(1);
    // The random part uses every base64url character over many ids (90 bits, not a counter).
    const randomChars = new Set(sameMillisecond.flatMap((id) => [...id.slice(7)]));
    expect(randomChars.size).toBe(64);
  });
  it('keep to the format every token checks, and do not begin with a dash until 2109', () => {
    const id = newSessionId(Date.now());
    expect(verifySession(secret, signSession(secret, id, Date.now() + 1_000), Date.now())).toMatchObject({ ok: true, sessionId: id });
    expect(newSessionId(Date.UTC(2026, 0, 1))[0]).not.toBe('-');
    expect(newSessionId(Date.UTC(2109, 0, 1))[0]).not.toBe('-');
  });
});

describe('link tokens', () => {
  it('carry the session until they expire', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signLink(secret, id, 10_000);
    expect(verifyLink(secret, token, 9_999)).toEqual({ ok: true, sessionId: id, nonce: token.split('.')[3], expiresAt: 10_000 });
    expect(verifyLink(secret, token, 10_001)).toEqual({ ok: false, reason: 'expired' });
  });
  it('each carry a nonce of their own, for the store to spend once', () => {
    const id = newSessionId(1_780_000_000_000);
    const nonces = new Set(Array.from({ length: 100 }, () => signLink(secret, id, 10_000).split('.')[3]));
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });
  it('refuse a changed expiry or session', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signLink(secret, id, 10_000);
    const [kind, sid, , nonce, mac] = token.split('.');
    expect(verifyLink(secret, `${kind}.${sid}.${(99_999_999).toString(36)}.${nonce}.${mac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, `${kind}.${sid}.${(10_000).toString(36)}.${'A'.repeat(16)}.${mac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, token.replace(id, newSessionId(1_780_000_000_000)), 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, signSession(secret, id, 10_000), 0)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('recovery tokens', () => {
  it('name the session until they expire, and no other kind of token passes for one', async () => {
    const { signRecovery, verifyRecovery, signRecoveryLink } = await import('./tokens.js');
    const id = newSessionId(1_780_000_000_000);
    const token = signRecovery(secret, id, 10_000);
    expect(token).not.toContain('@');
    expect(verifyRecovery(secret, token, 9_999)).toEqual({ ok: true, sessionId: id });
    expect(verifyRecovery(secret, token, 10_001)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyRecovery('t'.repeat(40), token, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyRecovery(secret, signLink(secret, id, 10_000), 0)).toEqual({ ok: false, reason: 'malformed' });
    // A recovery token is no link token, and a link token cannot be relabelled as a recovery one.
    expect(verifyLink(secret, token, 0)).toEqual({ ok: false, reason: 'malformed' });
    const [, sid, expiry, nonce, linkMac] = signLink(secret, id, 10_000).split('.');
    expect(verifyLink(secret, `p.${sid}.${expiry}.${nonce}.${linkMac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    // Every kind names its session second: the snippet reads it to tell its own session's link.
    const landing = signRecoveryLink(secret, id, 10_000);
    expect(landing.split('.')[1]).toBe(id);
    expect(verifyLink(secret, landing, 0)).toEqual({ ok: true, sessionId: id, recovery: true, nonce: landing.split('.')[3], expiresAt: 10_000 });
  });
});
