// End-to-end encryption on the page: this device's key published in each channel, the others' keys
// as the server tells them (trusted on first use: a change is said before anything is sent), private
// messages encrypted to every device that may read them, a channel's passphrase, and encrypted lines
// shown in clear when this page can read them ("Encrypted message" when it cannot). The crypto is
// WebCrypto's (e2e.js); the server sees envelopes only.
import { $, remember, remembered } from "./dom.js";
import {
  decryptChannel, decryptPrivate, encryptChannel, encryptPrivate, fingerprint, identity, isEnvelope, passphraseKey,
  safetyNumber,
} from "./e2e.js";
import { fillText, markEdited } from "./render.js";
import { myHandle, serverRules } from "./session.js";

const WRONG_PASSPHRASE = "This passphrase does not open the channel's messages";
const PINS = "wsserver-key-pins"; // channel/handle -> device -> fingerprint: the keys first seen (trust on first use)
const lower = (handle) => handle.toLowerCase();

/**
 * hooks: active() -> the room on screen; showAlert(text); clearAlert(); hold(room, on): the composer of `room`
 * may not send (its passphrase key is being derived) or may again.
 */
export function createSecrets(hooks) {
  const ui = {
    plain: $("plain-send"), verify: $("verify-dialog"), number: $("safety-number"), verifyTitle: $("verify-title"),
    trust: $("verify-trust"), passDialog: $("passphrase-dialog"), passForm: $("passphrase-form"),
    passInput: $("passphrase"), passToggle: $("encrypt-toggle"),
  };
  let plainRequest = null; // a private message the user may choose to send unencrypted
  let verifying = null;    // {room, handle} in the Verify dialog

  const pins = () => remembered(PINS, {});
  const pinKey = (room, handle) => `${room.name}/${lower(handle)}`;
  const keysOf = (room, handle) => room.keys?.get(lower(handle));

  function state(room) {
    room.keys ??= new Map();   // lower handle -> {handle, devices: Map(device -> jwk)}
    room.warned ??= new Map(); // lower handle -> the sentence said about its key
    return room;
  }

  async function pin(room, handle) {
    const entry = keysOf(room, handle);
    const all = pins();
    all[pinKey(room, handle)] = Object.fromEntries(await Promise.all(
      [...(entry?.devices ?? [])].map(async ([device, jwk]) => [device, await fingerprint(jwk)])));
    remember(PINS, all);
    room.warned.delete(lower(handle));
  }

  async function checkKey(room, data) {
    const { handle } = data;
    const device = data.device ?? "";
    const entry = keysOf(room, handle) ?? { handle, devices: new Map() };
    if (!data.device) entry.devices.clear(); // without tokens a handle has one key: the last one published
    entry.devices.set(device, data.public);
    room.keys.set(lower(handle), entry);
    if (room === hooks.active()) room.users.paint(); // a Verify button beside the name
    if (lower(handle) === lower(myHandle())) return;
    const pinned = pins()[pinKey(room, handle)];
    if (!pinned) {
      await pin(room, handle); // the first key seen for this handle here: trusted on first use
      return;
    }
    const seen = await fingerprint(data.public);
    if (pinned[device] === seen) return;
    const sentence = device && !(device in pinned) ? `${handle} has a new device` : `${handle}'s key has changed`;
    room.warned.set(lower(handle), sentence);
    room.log.notice(sentence);
    if (room === hooks.active()) room.users.paint();
  }

  function markLocked(item) {
    if (item.querySelector(":scope > .lock")) return;
    const lock = document.createElement("span");
    lock.className = "lock";
    lock.textContent = "🔒";
    lock.title = "Encrypted";
    lock.setAttribute("role", "img");
    lock.setAttribute("aria-label", "Encrypted");
    item.querySelector(":scope > .text")?.before(lock, " ");
  }

  async function reveal(room, item, parsed, envelope) {
    const text = item.querySelector(":scope > .text");
    if (!text) return;
    item.classList.add("encrypted");
    text.textContent = "Encrypted message";
    try {
      let plain;
      if (parsed.to) {
        const me = await identity(myHandle());
        plain = (await decryptPrivate(me, room.name, parsed.handle, parsed.to, envelope)).text;
      } else if (room.passphrase) {
        plain = await decryptChannel(await room.passphrase, room.name, parsed.handle, envelope);
      } else {
        return false;
      }
      text.replaceChildren();
      fillText(text, plain);
      if (item.dataset.edited) markEdited(item);
      item.classList.replace("encrypted", "decrypted");
      markLocked(item);
      if (!parsed.to) room.opened = true;
      return true;
    } catch {
      // another device's, another passphrase's, or not for us: it stays "Encrypted message"
      if (!parsed.to && room.passphrase && !room.opened && !room.checking) wrongPassphrase(room);
      return false;
    }
  }

  /** Say once, in the alert box, that the passphrase opens none of the channel's encrypted lines. */
  function wrongPassphrase(room) {
    if (room.saidWrong) return;
    room.saidWrong = true;
    hooks.showAlert(room === hooks.active() ? WRONG_PASSPHRASE : `${room.name}: ${WRONG_PASSPHRASE}`);
  }

  async function readers(room, to) {
    const me = await identity(myHandle());
    const found = [];
    for (const [device, jwk] of keysOf(room, to)?.devices ?? []) found.push({ handle: to, device, public: jwk });
    const own = keysOf(room, myHandle())?.devices ?? new Map();
    for (const [device, jwk] of own) {
      if (device !== me.device) found.push({ handle: myHandle(), device, public: jwk });
    }
    found.push({ handle: myHandle(), device: own.has(me.device) ? me.device : "", public: me.publicJwk });
    return { me, found };
  }

  ui.plain.addEventListener("click", () => {
    const request = plainRequest;
    plainRequest = null;
    ui.plain.hidden = true;
    if (request && hooks.active()?.connection.send(request, true)) hooks.clearAlert();
  });
  ui.trust.addEventListener("click", async () => {
    if (verifying) await pin(verifying.room, verifying.handle);
    verifying = null;
    ui.verify.close();
    hooks.clearAlert();
    hooks.active()?.users.paint();
  });
  $("verify-close").addEventListener("click", () => ui.verify.close());
  ui.passToggle.addEventListener("click", () => {
    const room = hooks.active();
    if (!room) return;
    if (room.passphrase) {
      room.passphrase = null;
      ui.passToggle.setAttribute("aria-checked", "false");
      return;
    }
    ui.passInput.value = "";
    ui.passDialog.showModal();
  });
  $("passphrase-cancel").addEventListener("click", () => ui.passDialog.close());
  ui.passForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const room = hooks.active();
    const passphrase = ui.passInput.value;
    if (!room || !passphrase) return;
    ui.passDialog.close();
    // The passphrase is on from now: until its key is derived (a quarter of a second, more on a phone)
    // room.passphrase is the promise of it, which prepare() awaits, and the composer is held. Nothing
    // typed in the meantime goes out in plain text.
    const deriving = passphraseKey(passphrase, room.name);
    room.passphrase = deriving;
    room.deriving = true;
    hooks.hold(room, true); // the toggle is pressed once the key is there
    let key = null;
    try {
      key = await deriving;
    } catch {
      hooks.showAlert("The passphrase's key could not be made: nothing was encrypted");
    }
    room.deriving = false;
    if (room.passphrase === deriving) room.passphrase = key; // unless turned off meanwhile
    if (hooks.active() === room) ui.passToggle.setAttribute("aria-checked", String(Boolean(room.passphrase)));
    hooks.hold(room, false);
    if (!room.passphrase) return;
    // A new passphrase: said wrong (once) if it opens none of the encrypted lines on screen, or of the next ones.
    room.opened = false;
    room.saidWrong = false;
    room.checking = true;
    const channelLines = [...room.log.list.querySelectorAll("li.line.encrypted:not(.private)")];
    const opened = await Promise.all(channelLines.map((item) =>
      reveal(room, item, { handle: item.dataset.author, to: null }, item.dataset.envelope)));
    room.checking = false;
    if (channelLines.length && !opened.some(Boolean)) wrongPassphrase(room);
  });

  return {
    /** The room's socket took the join: publish this device's key there. */
    async publish(room) {
      state(room);
      const me = await identity(myHandle());
      room.connection.send({ type: "key", public: me.publicJwk, device: me.device }, true);
    },
    /** A key event of `room`. */
    key(room, data) {
      checkKey(state(room), data);
    },
    /** Show an encrypted line in clear if this page can read it (a rendered line of `room`). */
    reveal(room, item, parsed) {
      if (!isEnvelope(parsed.text)) return;
      item.dataset.envelope = parsed.text;
      reveal(state(room), item, parsed, parsed.text);
    },
    /** An encrypted edit of a line of `room`: its new text in clear if this page can read it. */
    revealEdit(room, item, envelope) {
      if (!room) return;
      item.dataset.envelope = envelope;
      reveal(state(room), item, { handle: item.dataset.author, to: null }, envelope);
    },
    /** The lines of `room` this page decrypted: [{item, text}], for a search the server cannot do. */
    decrypted(room) {
      return [...(room?.log.list.querySelectorAll("li.line.decrypted[data-cursor]") ?? [])]
        .map((item) => ({ item, text: item.querySelector(":scope > .text")?.dataset.source ?? "" }));
    },
    /** The room on screen changed: the passphrase toggle shows its state. */
    shown(room) {
      ui.passToggle.setAttribute("aria-checked", String(Boolean(room?.passphrase) && !room.deriving));
      hooks.hold(room, Boolean(room?.deriving));
    },
    /** Whether `room` has its passphrase on: what is shared there would not be encrypted. */
    locked(room) {
      return Boolean(room?.passphrase);
    },
    /** Encrypt what the message box sends, as it must be; null (and a sentence said) when it must not go. */
    async prepare(room, request) {
      state(room);
      if (request.type === "private") {
        const to = request.to;
        const present = room.users.names().some((handle) => lower(handle) === lower(to));
        if (!present && !keysOf(room, to) && !serverRules().accounts) {
          // Not in the channel: encrypted for our own devices only, so the server's refusal costs no secret.
          // (With accounts the server keeps a line for an account away: one it cannot read would be no use,
          // so it is asked about below, as for someone here without a key.)
          const { me, found } = await readers(room, to);
          const message = await encryptPrivate(me, room.name, myHandle(), to, request.message, found);
          return { ...request, message, encrypted: true };
        }
        const sentence = room.warned.get(lower(to));
        if (sentence) {
          hooks.showAlert(`${sentence}: verify it (Users, Verify) before sending`);
          return null;
        }
        if (!keysOf(room, to)?.devices.size) {
          hooks.showAlert(`${to} has no key yet: not sent`);
          plainRequest = request;
          ui.plain.hidden = false;
          return null;
        }
        const { me, found } = await readers(room, to);
        const message = await encryptPrivate(me, room.name, myHandle(), keysOf(room, to).handle, request.message, found);
        return { ...request, message, encrypted: true };
      }
      if ((request.type === "chat" || request.type === "edit") && room.passphrase) {
        const key = await room.passphrase; // still being derived: wait for it, never send the text as it is
        if (!key) return null;
        const message = await encryptChannel(key, room.name, myHandle(), request.message);
        return { ...request, message, encrypted: true };
      }
      return request;
    },
    /** A Verify button beside a user with a key. */
    controls(room, handle) {
      if (!room || lower(handle) === lower(myHandle()) || !keysOf(state(room), handle)?.devices.size) return [];
      const button = document.createElement("button");
      button.type = "button";
      button.className = "moderate";
      button.textContent = room.warned.has(lower(handle)) ? "Verify (key changed)" : "Verify";
      button.setAttribute("aria-label", `Verify ${handle}`);
      button.addEventListener("click", async () => {
        verifying = { room, handle };
        const mine = [...(keysOf(room, myHandle())?.devices.values() ?? [])];
        if (!mine.length) mine.push((await identity(myHandle())).publicJwk);
        ui.number.textContent = await safetyNumber(mine, [...keysOf(room, handle).devices.values()]);
        ui.verifyTitle.textContent = `Verify ${handle}`;
        ui.verify.showModal();
      });
      return [button];
    },
  };
}
