import { describe, expect, it } from 'vitest';
import { newSessionId, signLink, signSession, verifyLink, verifySession } from './tokens.js';

const secret = 's'.repeat(40);

describe('session tokens', () => {
  it('round-trips and refuses tampering or another secret', () => {
    const id = newSessionId();
    const token = signSession(secret, id);
    expect(verifySession(secret, token)).toBe(id);
    expect(verifySession('t'.repeat(40), token)).toBeUndefined();
    const other = newSessionId();
    expect(verifySession(secret, token.replace(id, other))).toBeUndefined();
    expect(verifySession(secret, 'garbage')).toBeUndefined();
  });
});

describe('link tokens', () => {
  it('carry the session until they expire', () => {
    const id = newSessionId();
    const token = signLink(secret, id, 10_000);
    expect(verifyLink(secret, token, 9_999)).toEqual({ ok: true, sessionId: id });
    expect(verifyLink(secret, token, 10_001)).toEqual({ ok: false, reason: 'expired' });
  });
  it('refuse a changed expiry or session', () => {
    const id = newSessionId();
    const token = signLink(secret, id, 10_000);
    const [kind, sid, , mac] = token.split('.');
    expect(verifyLink(secret, `${kind}.${sid}.${(99_999_999).toString(36)}.${mac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, token.replace(id, newSessionId()), 0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyLink(secret, signSession(secret, id), 0)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('recovery tokens', () => {
  it('name the session until they expire, and no other kind of token passes for one', async () => {
    const { signRecovery, verifyRecovery, signRecoveryLink } = await import('./tokens.js');
    const id = newSessionId();
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
