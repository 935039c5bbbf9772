import { describe, expect, it } from 'vitest';
import { newSessionDefaults } from '../store/store.js';
import { abandonmentPolicy, nextDueAt } from './session-rules.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

/** An abandoned session whose CART went out at T0 and whose last check was at `checkedAt`. */
function abandoned(checkedAt: number) {
  return {
    ...newSessionDefaults({ id: 's1', campaignId: '12', createdAt: T0 - HOUR, lastSeenAt: T0 - HOUR, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.7', isBot: false }),
    lead: { emailAddress: 'ann@example.com' },
    state: 'abandoned' as const,
    stateChangedAt: T0,
    orderCheck: { orderId: 'P1', checkedAt, verified: false },
  };
}

describe('post-CART recheck schedule', () => {
  const config = (linkTtlMs: number) => ({ abandonAfterMs: 30 * 60_000, upsellWindowMs: 15 * 60_000, recovery: { linkTtlMs } });

  it('asks at 1 h, 6 h, 24 h and 72 h after the CART, then never again', () => {
    const policy = abandonmentPolicy(config(7 * 24 * HOUR));
    const due: (number | null)[] = [];
    let checkedAt = T0;
    for (let i = 0; i < 5; i++) {
      const next = nextDueAt(abandoned(checkedAt), policy);
      due.push(next === null ? null : (next - T0) / HOUR);
      if (next === null) break;
      checkedAt = next;
    }
    expect(due).toEqual([1, 6, 24, 72, null]);
  });

  it('stops at the recovery link\'s lifetime', () => {
    const policy = abandonmentPolicy(config(24 * HOUR));
    expect(nextDueAt(abandoned(T0 + 6 * HOUR), policy)).toBe(T0 + 24 * HOUR);
    expect(nextDueAt(abandoned(T0 + 24 * HOUR), policy)).toBeNull();
  });
});
