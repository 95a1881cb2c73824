// Base64url (RFC 4648 section 5, no padding), the one helper for it: envelopes, key names and a
// token's claims use it. The platform's atob and btoa do the work; only the alphabet differs.

/** Encode bytes (an ArrayBuffer or a typed array) as base64url without padding. */
export function encode(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decode base64url (padded or not) to bytes; throws on text that is not base64url. */
export function decode(text) {
  return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}
