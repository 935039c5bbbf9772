/**
 * @module attribution
 * When to tell the collector what the ad platforms need (click ids, affiliate and UTM values,
 * the ad cookies and the marketing choice), as every page carries it. The reading and sending
 * is a second file (`/a.js`, attribution-capture.ts), imported only when there may be something
 * new: this session has not been told on this domain, the marketing choice changed, the URL
 * has a click, affiliate or UTM parameter, or (with marketing consent only) the page has one of
 * the ad platforms' cookies. It runs after the commands queued before the script loaded, so
 * that a consent manager's answer is known before any cookie is read.
 */
import { src } from './config.js';
import type * as AttributionCapture from './attribution-capture.js';
import { sessionId } from './session.js';
import { local } from './storage.js';
import { answered, consented, marketing, track } from './transport.js';
import { log } from './util.js';

/**
 * What a.js looked at when it last ran on this domain: the session, the marketing choice, the
 * names of the URL's parameters and (with marketing consent only) of the ad cookies the page
 * has. Names, never values: a.js tells each key once per session, so only a new name can be
 * news (and no click id is kept here).
 */
const seen = (): string => [sessionId(), marketing, location.search.match(/\w+=/g), marketing && document.cookie.match(/_(fb.|ttp)=/g)] + '';

/** Loads a.js when the page may have something new to tell, and lets it tell it. */
export const attribute = (): unknown =>
  consented &&
  local('funnelbeacon.s') != seen() &&
  // Each run reads the marketing choice and the page as they are then: runs settled in any order agree.
  (import(new URL('a.js', src).href) as Promise<typeof AttributionCapture>).then(
    (code) => code.attribute(marketing, sessionId, track, local, seen, answered),
    log,
  );
