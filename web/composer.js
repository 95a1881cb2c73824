// The message box: characters left, Enter to send, /msg for private lines, @ to name someone (with
// completion), and the typing signal. It sends on the socket of the channel on screen.
import { createCompletion } from "./complete.js";
import { $, clearAlert, showAlert } from "./dom.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { EMPTY_MESSAGE, TOO_LONG, fill } from "./sentences.js";
import { serverRules } from "./session.js";
import { charCount, parseCommand } from "./text.js";

const TYPING_EVERY = 2000; // ms between "still typing" refreshes (the server forgets after 6 s)

/**
 * hooks: send(request) -> whether it went out on the open socket; prepare(request) -> a promise of the request
 * to send (encrypted as it must be) or null; sent() after a message left;
 * handles() -> the handles of the channel on screen (for completion); channel() -> its name (for its draft).
 */
export function createComposer(hooks) {
  const ui = { compose: $("compose"), message: $("message"), send: $("send"), remaining: $("remaining") };
  const completion = createCompletion({ handles: hooks.handles, changed: () => updateRemaining() });
  let typingSince = 0; // when we last told the server we are typing (0: not typing)
  let replyCursor = null; // the line the next message replies to
  const replyBar = $("reply-bar");

  function setReply(cursor, label) {
    replyCursor = cursor;
    replyBar.hidden = cursor === null;
    $("reply-to").textContent = cursor === null ? "" : `Replying to ${label}`;
  }
  $("format-help").addEventListener("click", () => $("format-dialog").showModal());
  $("reply-cancel").addEventListener("click", () => {
    setReply(null, "");
    ui.message.focus();
  });

  let live = false; // the socket of the channel on screen is open
  let held = false; // its passphrase's key is being derived: nothing may be sent until it is there

  /** The box grows with its text up to a few lines (CSS max-height), and shrinks back when it is sent. */
  function fit() {
    ui.message.style.height = "auto";
    ui.message.style.height = `${ui.message.scrollHeight + 2}px`;
  }

  function updateRemaining() {
    fit();
    if (held) {
      ui.remaining.textContent = "Making the passphrase's key: sending waits";
      return;
    }
    const left = serverRules().maxChars - charCount(ui.message.value);
    ui.remaining.textContent = `${left} characters left`;
    ui.remaining.classList.toggle("over", left < 0);
  }

  function setTyping(typing) {
    const now = Date.now();
    if (typing && now - typingSince < TYPING_EVERY) {
      return; // at most one "typing" every 2 s
    }
    if (!typing && typingSince === 0) {
      return;
    }
    typingSince = hooks.send({ type: "typing", typing }) && typing ? now : 0;
  }

  async function send() {
    const text = ui.message.value;
    if (ui.send.disabled) {
      return;
    }
    if (!text.trim()) {
      showAlert(EMPTY_MESSAGE);
      return;
    }
    if (charCount(text) > serverRules().maxChars) {
      showAlert(fill(TOO_LONG, { limit: serverRules().maxChars }));
      return;
    }
    const command = parseCommand(text);
    if (command?.error) {
      showAlert(command.error);
      return;
    }
    const request = command?.topic !== undefined ? { type: "topic", topic: command.topic }
      : command ? { type: "private", to: command.to, message: command.text } : { type: "chat", message: text };
    if (!command && replyCursor !== null) request.reply_to = replyCursor;
    const ready = await hooks.prepare(request); // encrypted when it must be; null: not to be sent (said why)
    if (!ready || !hooks.send(ready)) {
      return;
    }
    clearAlert();
    setTyping(false);
    ui.message.value = "";
    saveDraft(hooks.channel(), "");
    setReply(null, "");
    updateRemaining();
    hooks.sent();
  }

  ui.compose.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  ui.message.addEventListener("keydown", (event) => {
    if (event.isComposing || completion.key(event)) return;
    if (event.key === "Escape" && replyCursor !== null) {
      event.preventDefault();
      setReply(null, "");
      return;
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  ui.message.addEventListener("input", () => {
    saveDraft(hooks.channel(), ui.message.value);
    updateRemaining();
    setTyping(ui.message.value.trim() !== "" && !ui.message.value.startsWith("/"));
  });
  ui.message.addEventListener("blur", () => setTyping(false));

  return {
    updateRemaining,
    /** Enable or disable sending (only while connected). */
    enable(on) {
      live = on;
      ui.message.disabled = !live;
      ui.send.disabled = !live || held;
      if (!live) typingSince = 0;
    },
    /** Hold sending (the text can still be typed) while the passphrase's key is derived, or let it go. */
    hold(on) {
      held = on;
      ui.send.disabled = !live || held;
      ui.compose.setAttribute("aria-busy", String(held));
      updateRemaining();
    },
    /** Another channel comes on screen: the old one is told we stopped typing; its text stays its draft. */
    switching() {
      setReply(null, "");
      setTyping(false);
      typingSince = 0;
      completion.close();
    },
    /** A channel is on screen: its box shows its draft. */
    restore(channel) {
      ui.message.value = loadDraft(channel);
      updateRemaining();
    },
    /** Start a private message to `handle`. */
    startPrivate(handle) {
      ui.message.value = `/msg ${handle} `;
      saveDraft(hooks.channel(), ui.message.value);
      updateRemaining();
      ui.message.focus();
    },
    focus() {
      ui.message.focus();
    },
    /** The next message replies to the line `cursor` names (`label`: its author and text, shown). */
    replyTo(cursor, label) {
      setReply(cursor, label.length > 80 ? `${label.slice(0, 79)}…` : label);
      ui.message.focus();
    },
  };
}
