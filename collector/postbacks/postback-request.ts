/**
 * @module postback-request
 * A postback and one event's values, made into the HTTP request a network receives: each
 * `{token}` in the URL replaced by its value, URL-encoded where it lands (an affiliate's `&` or
 * `=` never becomes a parameter of its own), and for a POST the body holding every token by
 * name, form-encoded or as JSON. Pure: firing it is postback-client.ts's.
 */
import { POSTBACK_TOKENS, TOKEN_PATTERN, type Postback, type PostbackToken } from './postback-file.js';
import { tokenTexts, type PostbackValues } from './postback-values.js';

export interface PostbackRequest {
  /** The postback's name, for the delivery log and messages. */
  postback: string;
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The URL as the delivery log keeps it: the email hash's place says `[hash]`. */
  loggedUrl: string;
  /** The body as the delivery log keeps it, the same way. */
  loggedBody?: string;
}

export const POSTBACK_USER_AGENT = 'funnelbeacon-postback';
/** What the delivery log shows in place of the email hash. */
const HASH = '[hash]';

/**
 * The URL with each token's text, encoded with encodeURIComponent; a token never written is left
 * as the file has it (the file's check refuses one). `masked`: the email hash as `[hash]`.
 */
export function renderUrl(template: string, texts: Readonly<Record<PostbackToken, string>>, masked = false): string {
  return template.replace(TOKEN_PATTERN, (whole, name: string) => {
    if (!Object.hasOwn(texts, name)) return whole;
    const text = texts[name as PostbackToken];
    return masked && name === 'email_sha256' && text !== '' ? HASH : encodeURIComponent(text);
  });
}

function bodyOf(kind: 'form' | 'json', texts: Readonly<Record<PostbackToken, string>>, amountCents: number | undefined): { type: string; text: string } {
  if (kind === 'form') return { type: 'application/x-www-form-urlencoded', text: new URLSearchParams(POSTBACK_TOKENS.map((token) => [token, texts[token]])).toString() };
  const json: Record<string, string | number | null> = {};
  for (const token of POSTBACK_TOKENS) json[token] = texts[token];
  // In JSON the amount is a number in major units (39.95), which trackers read as money without
  // parsing text; without an amount it is null, not "", so that it is never read as zero.
  json.amount = amountCents === undefined ? null : Number(texts.amount);
  return { type: 'application/json', text: JSON.stringify(json) };
}

/** The request a postback makes for these values. */
export function postbackRequest(postback: Postback, values: PostbackValues): PostbackRequest {
  const texts = tokenTexts(values);
  const logged = { ...texts, email_sha256: texts.email_sha256 === '' ? '' : HASH };
  const url = renderUrl(postback.url, texts);
  const headers: Record<string, string> = { 'user-agent': POSTBACK_USER_AGENT, accept: '*/*' };
  if (postback.method === 'GET') return { postback: postback.name, method: 'GET', url, headers, loggedUrl: renderUrl(postback.url, texts, true) };
  const body = bodyOf(postback.body ?? 'form', texts, values.amountCents);
  return {
    postback: postback.name,
    method: 'POST',
    url,
    headers: { ...headers, 'content-type': body.type },
    body: body.text,
    loggedUrl: renderUrl(postback.url, texts, true),
    loggedBody: bodyOf(postback.body ?? 'form', logged, values.amountCents).text.replace(encodeURIComponent(HASH), HASH),
  };
}
