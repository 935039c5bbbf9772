import { describe, expect, it } from 'vitest';
import { missingNodeFlags, SERVE_NODE_FLAGS } from './node-flags.js';

describe('missingNodeFlags', () => {
  it('names the flags neither the command line nor NODE_OPTIONS gave', () => {
    expect(missingNodeFlags([], '')).toEqual([...SERVE_NODE_FLAGS]);
    expect(missingNodeFlags(['--max-semi-space-size=4'], '')).toEqual(['--max-old-space-size=128']);
    expect(missingNodeFlags([], '--max_old_space_size=256 --max-semi-space-size=1')).toEqual([]);
  });
});
