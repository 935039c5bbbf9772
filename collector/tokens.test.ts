import { describe, expect, it } from 'vitest';
import { newSessionId, signLink, signSession, verifyLink, verifySession } from './tokens.js';

const secret = 's'.repeat(40);

describe('session tokens', () => {
  it('round-trips and refuses tampering or another secret', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signSession(secret, id);
    expect(verifySession(secret, token)).toBe(id);
    expect(verifySession('t'.repeat(40), token)).toBeUndefined();
    const other = newSessionId(1_780_000_000_000);
    expect(verifySession(secret, token.replace(id, other))).toBeUndefined();
    expect(verifySession(secret, 'garbage')).toBeUndefined();
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
    expect(verifySession(secret, signSession(secret, id))).toBe(id);
    expect(newSessionId(Date.UTC(2026, 0, 1))[0]).not.toBe('-');
    expect(newSessionId(Date.UTC(2109, 0, 1))[0]).not.toBe('-');
  });
});

describe('link tokens', () => {
  it('carry the session until they expire', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signLink(secret, id, 10_000);
    expect(verifyLink(secret, token, 9_999)).toEqual({ ok: true, sessionId: id });
    expect(verifyLink(secret, token, 10_001)).toEqual({ ok: false, reason: 'expired' });
  });
  it('refuse a changed expiry or session', () => {
    const id = newSessionId(1_780_000_000_000);
    const token = signLink(secret, id, 10_000);
    const [kind, sid, , mac] = token.split('.');
    expect(verifyLink(secret, `${kind}.${sid}.${(99_999_999).toString(36)}.${mac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, token.replace(id, newSessionId(1_780_000_000_000)), 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, signSession(secret, id), 0)).toEqual({ ok: false, reason: 'malformed' });
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
    const [, sid, expiry, linkMac] = signLink(secret, id, 10_000).split('.');
    expect(verifyLink(secret, `p.${sid}.${expiry}.${linkMac}`, 0)).toMatchObject({ ok: false });
    expect(verifyLink(secret, `p.${expiry}.${sid}.${linkMac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    // The recovery landing's token puts the expiry first: the snippet never mistakes it for a
    // link back to a session it holds.
    expect(signRecoveryLink(secret, id, 10_000).split('.')[1]).not.toBe(id);
    expect(verifyLink(secret, signRecoveryLink(secret, id, 10_000), 0)).toEqual({ ok: true, sessionId: id, recovery: true });
  });
});
