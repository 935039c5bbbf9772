/**
 * @module ids
 * Event ids, made in the browser so that the collector recognises a resent event.
 */

/**
 * A random RFC 4122 version-4 UUID, the one every browser mints for a blob URL
 * (`blob:<origin>/<uuid>`, https://w3c.github.io/FileAPI/#unicodeBlobURL): unlike
 * `crypto.randomUUID`, it exists outside secure contexts too, and many landers still run on plain
 * http. The URL is revoked at once, so nothing stays registered.
 */
export const uuid = (): string => {
  const url = URL.createObjectURL(new Blob());
  URL.revokeObjectURL(url);
  return url.slice(-36);
};
