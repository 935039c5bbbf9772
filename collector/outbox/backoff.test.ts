import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 1_000, capMs: 60_000, maxAttempts: 10 };
  it('doubles per attempt with jitter between 1x and 2x', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(1_000);
    expect(backoffDelay(1, policy, () => 0.999)).toBe(1_999);
    expect(backoffDelay(3, policy, () => 0)).toBe(4_000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(6_000);
  });
  it('never exceeds the cap', () => {
    expect(backoffDelay(40, policy, () => 0.999)).toBe(60_000);
  });
});
