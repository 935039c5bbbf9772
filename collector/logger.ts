/**
 * @module logger
 * Structured JSON logs (pino) on stdout. Log calls pass ids and counts, never personal data;
 * the redaction list is a second line of defence in case a field name slips through.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACTED_KEYS = [
  'emailAddress',
  'email',
  'phoneNumber',
  'phone',
  'firstName',
  'lastName',
  'address1',
  'address2',
  'password',
  'loginId',
  'apiKey',
  'token',
  'accessToken',
  'access_token',
  'session',
  'link',
  'secret',
  'authorization',
  'cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'funnelbeacon' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((key) => `*.${key}`)], censor: '[redacted]' },
    },
    destination,
  );
}
