// The log on the page: lines rendered as text (never HTML), live lines appended with the view kept
// at the bottom (or a "New messages" button), older lines paged in when scrolled to the top.
import { $, session } from "./dom.js";
import { appendFolded, prependFolded } from "./fold.js";
import { parseLine, presenceChange } from "./lines.js";

/**
 * hooks: decorate(item, parsed, cursor, deleted, live) adds moderation controls;
 * jumpActive() says a jump view hides the live list; send(request) -> whether it went out.
 */
export function createLogView(hooks) {
  const ui = { log: $("log"), lines: $("lines"), jump: $("jump"), message: $("message") };
  let oldest = null;        // before the first line shown: page back from here
  let loadingOlder = false;
  let reachedStart = false;

  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  }

  function renderLine(line, cursor = null, deleted = false, live = false) {
    const parsed = parseLine(line);
    const item = document.createElement("li");
    item.className = parsed.system ? "line system" : "line";
    const change = presenceChange(parsed);
    if (change) {
      item.dataset.presence = change.kind; // a join or leave line: runs of them fold (fold.js)
      item.dataset.who = change.handle;
    }
    if (parsed.handle && parsed.handle === session.me) {
      item.classList.add("own");
    }
    if (parsed.time) {
      const time = document.createElement("time");
      time.dateTime = `${parsed.date}T${parsed.time}`;
      time.textContent = parsed.time;
      time.title = `${parsed.date} ${parsed.time}`;
      item.append(time, " ");
    }
    if (parsed.to) {
      item.classList.add("private");
      if (parsed.handle === session.me || parsed.to === session.me) item.classList.add("own");
      const tag = document.createElement("span");
      tag.className = "private-tag";
      tag.textContent = "private";
      item.append(tag, " ");
    }
    if (parsed.handle && !parsed.system) {
      const who = document.createElement("span");
      who.className = "handle";
      who.textContent = parsed.to ? `${parsed.handle} → ${parsed.to}` : parsed.handle;
      item.append(who, " ");
    }
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = parsed.text; // always text, never HTML
    item.append(text);
    hooks.decorate(item, parsed, cursor, deleted, live);
    return item;
  }

  /** Render the lines of a frame or a history answer, with their cursors and deleted marks. */
  function renderFrame(data, live = false) {
    const deleted = new Set(data.deleted ?? []);
    const lines = data.message ? data.message.split("\n") : [];
    return lines.map((line, index) => renderLine(line, data.cursors?.[index] ?? null, deleted.has(index), live));
  }

  function appendItems(items) {
    if (!items.length) {
      return;
    }
    if (hooks.jumpActive()) {
      appendFolded(ui.lines, items); // the live list is hidden behind a jump: it is shown again at its end
      return;
    }
    const follow = nearBottom();
    appendFolded(ui.lines, items);
    if (follow) {
      ui.log.scrollTop = ui.log.scrollHeight;
    } else {
      ui.jump.hidden = false;
    }
  }

  function loadOlder() {
    if (loadingOlder || reachedStart || oldest === null) {
      return;
    }
    if (hooks.send({ type: "history", before: oldest, limit: 100 })) loadingOlder = true;
  }

  ui.log.addEventListener("scroll", () => {
    if (hooks.jumpActive()) return; // the jump view pages itself
    if (nearBottom()) {
      ui.jump.hidden = true;
    }
    if (ui.log.scrollTop < 10) {
      loadOlder();
    }
  });

  ui.jump.addEventListener("click", () => {
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.jump.hidden = true;
    ui.message.focus();
  });

  return {
    renderLine,
    renderFrame,
    /** Live lines (a lines frame): shown at the end; the resume position moves past them. */
    appendLines(data) {
      if (oldest === null && data.start) {
        oldest = data.start; // the first lines shown: older ones are before this
      }
      session.lastCursor = data.cursor ?? session.lastCursor;
      appendItems(renderFrame(data, true));
    },
    /** One line outside the log's order (a private message to us). */
    appendLine(line) {
      appendItems([renderLine(line)]);
    },
    /** A line of the page's own (not from the log). */
    notice(text) {
      const item = document.createElement("li");
      item.className = "line notice";
      item.textContent = text;
      appendItems([item]);
    },
    /** A history answer for the live view: older lines above, the view kept where the reader is. */
    older(data) {
      loadingOlder = false;
      if (!data.message) {
        reachedStart = true;
        return;
      }
      const before = ui.log.scrollHeight;
      prependFolded(ui.lines, renderFrame(data));
      ui.log.scrollTop += ui.log.scrollHeight - before;
      oldest = data.cursor;
    },
    /** Start the view again (a new channel, or a resume the server could not replay exactly). */
    reset() {
      oldest = null;
      loadingOlder = false;
      reachedStart = false;
      ui.lines.replaceChildren();
    },
    hideJump() {
      ui.jump.hidden = true;
    },
    toBottom() {
      ui.log.scrollTop = ui.log.scrollHeight;
    },
  };
}
