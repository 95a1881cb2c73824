// End-to-end encryption with WebCrypto only (nothing here is written by hand but the envelope's
// layout). Private messages: ECDH P-256 key pairs, the private key non-extractable in IndexedDB; a
// message is encrypted once with a fresh AES-GCM key, which is wrapped for each device that may
// read it (the recipient's, and the sender's own) with a key derived by ECDH and HKDF-SHA-256.
// Passphrase channels: AES-GCM keys derived with PBKDF2-SHA-256, 600,000 iterations, salted
// with the channel's name. Every ciphertext is bound to its channel and its sender (and
// recipient) as additional data, so an envelope copied into another line does not decrypt.
// Envelopes: "e2e1." + base64url(JSON): {"v": 1, "t": "dm" | "pass", ...} (docs/protocol.md).
import { decode as decode64, encode as encode64 } from "./base64url.js";

const PREFIX = "e2e1.";
const ITERATIONS = 600_000;
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const text = new TextEncoder();
const words = new TextDecoder();

const random = (length) => crypto.getRandomValues(new Uint8Array(length));

/** Whether a message's text is an envelope. */
export const isEnvelope = (message) => typeof message === "string" && message.startsWith(PREFIX);

function seal(body) {
  return PREFIX + encode64(text.encode(JSON.stringify({ v: 1, ...body })));
}

function open(envelope) {
  const body = JSON.parse(words.decode(decode64(envelope.slice(PREFIX.length))));
  if (body.v !== 1) throw new Error("unknown envelope version");
  return body;
}

// ------------------------------------------------------------ identity

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("wsserver", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("identities", { keyPath: "handle" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function stored(db, mode, run) {
  return new Promise((resolve, reject) => {
    const request = run(db.transaction("identities", mode).objectStore("identities"));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** This page's key pair and device id for `handle`: made once, kept in IndexedDB (the private key not extractable). */
export async function identity(handle) {
  const db = await database();
  const key = handle.toLowerCase();
  const found = await stored(db, "readonly", (store) => store.get(key));
  if (found) return found;
  const pair = await crypto.subtle.generateKey(ECDH, false, ["deriveBits"]);
  const publicJwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const made = {
    handle: key, device: encode64(random(12)), privateKey: pair.privateKey,
    publicJwk: { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y },
  };
  await stored(db, "readwrite", (store) => store.put(made));
  return made;
}

/** A short, stable name of a public key: its SHA-256 over the coordinates, base64url. */
export async function fingerprint(jwk) {
  return encode64(await crypto.subtle.digest("SHA-256", text.encode(`${jwk.x}.${jwk.y}`)));
}

/** The safety number of two sets of public keys: 12 groups of 5 digits, the same on both sides. */
export async function safetyNumber(mine, theirs) {
  const sides = await Promise.all([mine, theirs].map(async (keys) => (await Promise.all(keys.map(fingerprint))).sort().join(",")));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", text.encode(sides.sort().join("|"))));
  const groups = [];
  for (let i = 0; i < 12; i += 1) {
    const chunk = digest.slice(i * 5, i * 5 + 5).reduce((value, byte) => value * 256 + byte, 0);
    groups.push(String(chunk % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}

// ------------------------------------------------------------ private messages

async function wrappingKey(privateKey, publicJwk, info, usage) {
  const peer = await crypto.subtle.importKey("jwk", { ...publicJwk, ext: true }, ECDH, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, privateKey, 256);
  const base = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: text.encode(info) },
    base, { name: "AES-GCM", length: 256 }, false, [usage]);
}

const dmData = (channel, from, to) => text.encode(`wsserver dm|${channel}|${from.toLowerCase()}|${to.toLowerCase()}`);
const wrapInfo = (channel, from, to, device, reader, readerDevice) =>
  `wsserver dm key|${channel}|${from.toLowerCase()}|${to.toLowerCase()}|${device}|${reader.toLowerCase()}|${readerDevice}`;

/**
 * Encrypt a private message from `me` (an identity) to `to`, readable by `readers`:
 * [{handle, device, public}] (the recipient's devices and our own; device "" without tokens).
 */
export async function encryptPrivate(me, channel, from, to, message, readers) {
  const contentKey = random(32);
  const key = await crypto.subtle.importKey("raw", contentKey, "AES-GCM", false, ["encrypt"]);
  const iv = random(12);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: dmData(channel, from, to) }, key,
    text.encode(message));
  const keys = [];
  for (const reader of readers) {
    const wrap = await wrappingKey(me.privateKey, reader.public,
      wrapInfo(channel, from, to, me.device, reader.handle, reader.device), "encrypt");
    const wrapIv = random(12);
    keys.push({ to: reader.handle.toLowerCase(), d: reader.device, iv: encode64(wrapIv),
      k: encode64(await crypto.subtle.encrypt({ name: "AES-GCM", iv: wrapIv }, wrap, contentKey)) });
  }
  return seal({ t: "dm", from: me.device, pub: me.publicJwk, iv: encode64(iv), ct: encode64(ct), keys });
}

/** Decrypt a private message for `me`; return {text, sender: the sender's public key}. Throws if it cannot. */
export async function decryptPrivate(me, channel, from, to, envelope) {
  const body = open(envelope);
  if (body.t !== "dm") throw new Error("not a private message");
  const mine = me.handle.toLowerCase();
  for (const entry of body.keys.filter((k) => k.to === mine && (k.d === me.device || k.d === ""))) {
    try {
      const unwrap = await wrappingKey(me.privateKey, body.pub,
        wrapInfo(channel, from, to, body.from, mine, entry.d), "decrypt");
      const contentKey = await crypto.subtle.decrypt({ name: "AES-GCM", iv: decode64(entry.iv) }, unwrap, decode64(entry.k));
      const key = await crypto.subtle.importKey("raw", contentKey, "AES-GCM", false, ["decrypt"]);
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: decode64(body.iv), additionalData: dmData(channel, from, to) },
        key, decode64(body.ct));
      return { text: words.decode(plain), sender: body.pub };
    } catch {
      // wrapped for another key of ours: try the next entry
    }
  }
  throw new Error("not readable with this device's key");
}

// ------------------------------------------------------------ passphrase channels

/** The AES-GCM key of a passphrase for a channel (PBKDF2-SHA-256, 600,000 iterations, not extractable). */
export async function passphraseKey(passphrase, channel) {
  const base = await crypto.subtle.importKey("raw", text.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: text.encode(`wsserver channel|${channel}`), iterations: ITERATIONS },
    base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

const channelData = (channel, handle) => text.encode(`wsserver pass|${channel}|${handle.toLowerCase()}`);

export async function encryptChannel(key, channel, handle, message) {
  const iv = random(12);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: channelData(channel, handle) }, key,
    text.encode(message));
  return seal({ t: "pass", iv: encode64(iv), ct: encode64(ct) });
}

/** Decrypt a passphrase channel's line of `handle`; throws with another passphrase (or none). */
export async function decryptChannel(key, channel, handle, envelope) {
  const body = open(envelope);
  if (body.t !== "pass") throw new Error("not a channel message");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: decode64(body.iv), additionalData: channelData(channel, handle) },
    key, decode64(body.ct));
  return words.decode(plain);
}
