/**
 * @module revoked-sessions
 * Dashboard sign-in cookies ended by their logout. The store keeps them (so every collector sharing
 * it refuses a copied cookie replayed after logout) until the cookie would have expired anyway;
 * this collector also remembers the ones it has seen, in a small bounded set, so a replayed cookie
 * it knows is refused without asking the store again. A cookie not known here is looked up in the
 * store: one primary-key read per cookie request, and none for a bearer token, a cookie with a
 * bad signature, or an expired one (those are refused before).
 */

/** What of the store this needs (collector/store/store.ts). */
export interface RevocationStore {
  revokeDashboardSession(id: string, expiresAt: number): Promise<void>;
  isDashboardSessionRevoked(id: string): Promise<boolean>;
}

/** Ended cookies remembered by this collector at once (the oldest forgotten first; the store keeps all). */
export const MAX_REMEMBERED_REVOCATIONS = 1_000;

export class RevokedSessions {
  /** Cookie session ids, in the order they became known here. */
  readonly #known = new Set<string>();

  constructor(
    private readonly store: RevocationStore,
    private readonly max = MAX_REMEMBERED_REVOCATIONS,
  ) {}

  /** How many ended cookies this collector remembers. */
  get remembered(): number {
    return this.#known.size;
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    await this.store.revokeDashboardSession(id, expiresAt);
    this.#remember(id);
  }

  /** Whether the cookie session `id` was ended by a logout, on this collector or another. */
  async isRevoked(id: string): Promise<boolean> {
    if (this.#known.has(id)) return true;
    if (!(await this.store.isDashboardSessionRevoked(id))) return false;
    this.#remember(id);
    return true;
  }

  #remember(id: string): void {
    if (this.#known.has(id)) return;
    if (this.#known.size >= this.max) this.#known.delete(this.#known.values().next().value as string);
    this.#known.add(id);
  }
}
