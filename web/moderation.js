// Moderation on the page: "message deleted" lines, a Delete control on one's own recent lines, private
// ones too (and on every line of the channel for a channel operator), and a channel operator's Kick,
// Ban and Mute beside each name in the Users list, each confirmed in a dialog. The server decides; the
// page only offers.
import { $ } from "./dom.js";
import { serverRules, tokenClaims } from "./session.js";
import { shownTime } from "./loglines.js";

const ACTIONS = { kick: "Kick", ban: "Ban", mute: "Mute" };

/** Is the token (a JWT, or null) a channel operator's for `channel`? Display only: the server checks. */
export function tokenOperator(token, channel) {
  const claims = tokenClaims(token);
  return claims.op === true || (Array.isArray(claims.ops) && claims.ops.includes(channel));
}

/**
 * hooks: send(request) -> bool (on the channel on screen); me() -> own handle; operator(room) -> whether
 * we are an operator of that channel (null: the one on screen); showAlert(text).
 */
export function createModeration(hooks) {
  const dialog = $("moderate-dialog");
  const form = $("moderate-form");
  const title = $("moderate-title");
  const durationField = $("moderate-duration-field");
  const duration = $("moderate-duration");
  const reason = $("moderate-reason");
  const confirm = $("moderate-confirm");
  let pending = null; // {type: "delete", cursor} or {type: "moderate", action, handle}

  function ask(request, heading, verb, withDuration) {
    pending = request;
    title.textContent = heading;
    confirm.textContent = verb;
    durationField.hidden = !withDuration;
    duration.value = "";
    reason.value = "";
    dialog.showModal();
    (withDuration ? duration : reason).focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = pending;
    pending = null;
    dialog.close();
    if (!request) return;
    if (request.type === "moderate") {
      if (reason.value.trim()) request.reason = reason.value.trim();
      if (request.action !== "kick" && duration.value) request.for = duration.value;
    }
    if (!hooks.send(request)) hooks.showAlert("Not connected: nothing was done.");
  });
  $("moderate-cancel").addEventListener("click", () => {
    pending = null;
    dialog.close();
  });

  /** Show a rendered line as deleted: no text, no controls. */
  function markDeleted(item) {
    item.classList.add("deleted");
    item.querySelector(".delete")?.remove();
    item.querySelector(":scope > .file")?.remove(); // a shared file's preview goes with it
    const text = item.querySelector(".text");
    if (text) text.textContent = "message deleted";
  }

  /** Add a Delete control that asks to send `request`; `windowed`: gone after the server's own-line window. */
  function addDelete(item, parsed, request, windowed) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "delete";
    button.textContent = "Delete";
    button.setAttribute("aria-label", `Delete the line of ${parsed.handle} at ${shownTime(parsed)}`);
    if (windowed) item.dataset.until = String(Date.now() + serverRules().ownLineMs); // the server's own-line window
    button.addEventListener("click", () => ask(request, "Delete this message?", "Delete", false));
    item.append(" ", button);
  }

  return {
    markDeleted,
    /** Give a rendered line (of `room`'s log) its cursor, its deleted state, and a Delete control where allowed. */
    decorate(item, parsed, cursor, deleted, live, room) {
      if (!cursor) return;
      item.dataset.cursor = cursor;
      if (deleted) {
        markDeleted(item);
        return;
      }
      const own = parsed.handle === hooks.me() && !parsed.to && !parsed.system;
      const operator = hooks.operator(room);
      if (!(operator && !parsed.to) && !(own && live)) return;
      addDelete(item, parsed, { type: "delete", cursor }, own && live && !operator);
    },
    /** Give a rendered private line (`cursor`: of the private log) a Delete control if it is our own and live. */
    decoratePrivate(item, parsed, cursor, live) {
      if (cursor && live && parsed.handle === hooks.me()) {
        addDelete(item, parsed, { type: "delete", cursor, private: true }, true); // only its sender may
      }
    },
    /**
     * A deleted event: hide that line in `lists` (a channel's lines, and the jump view if it is that channel's);
     * `isPrivate`: the cursor is of the private log (only the line's two ends are told).
     */
    deleted(cursor, lists, isPrivate = false) {
      const selector = `li[data-${isPrivate ? "private" : "cursor"}="${CSS.escape(cursor)}"]`;
      for (const list of lists) {
        for (const item of list.querySelectorAll(selector)) markDeleted(item);
      }
    },
    /** Drop Delete controls of own lines older than the server allows. */
    sweep() {
      const now = Date.now();
      for (const item of document.querySelectorAll("li[data-until]")) {
        if (Number(item.dataset.until) < now) {
          item.querySelector(".delete")?.remove();
          delete item.dataset.until;
        }
      }
    },
    /** Controls beside a name in the Users list, for a channel operator. */
    userControls(handle) {
      if (!hooks.operator(null) || handle === hooks.me()) return [];
      return Object.entries(ACTIONS).map(([action, label]) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "moderate";
        button.textContent = label;
        button.setAttribute("aria-label", `${label} ${handle}`);
        button.addEventListener("click", () => ask({ type: "moderate", action, handle }, `${label} ${handle}?`, label,
          action !== "kick"));
        return button;
      });
    },
  };
}
