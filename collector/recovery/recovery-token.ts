/**
 * @module recovery-token
 * The recovery link a CART carries as its `orderUrl`: `PUBLIC_URL/r/<token>`, where the token
 * (see tokens.ts, kind `r`) names the session, is signed with `SECRET` and expires
 * `RECOVERY_LINK_TTL` after the cart was abandoned. It holds no personal data; nobody without the
 * secret can make one, and one cannot be turned into another (another session, a later expiry).
 */
import type { Config } from '../config.js';
import { signRecovery } from '../tokens.js';

export interface RecoveryLinks {
  /** The link for a session whose CART was queued at `abandonedAt`, and when it expires. */
  linkFor(sessionId: string, abandonedAt: number): { url: string; expiresAt: number };
}

export function recoveryLinks(config: Pick<Config, 'publicUrl' | 'recovery'>, secret: string): RecoveryLinks {
  const base = config.publicUrl.replace(/\/+$/, '');
  return {
    linkFor(sessionId, abandonedAt) {
      // The same for every attempt at delivering one CART: the expiry counts from the abandonment.
      const expiresAt = abandonedAt + config.recovery.linkTtlMs;
      return { url: `${base}/r/${signRecovery(secret, sessionId, expiresAt)}`, expiresAt };
    },
  };
}
