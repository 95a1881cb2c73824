// Search and jump: the Search panel above the log, and the "jump view", a second list in the log
// that shows a stretch of history (around a search result, or from a date) while live lines keep
// arriving in the hidden live list. Cursors stay opaque: kept as the server sent them, sent back.
import { $ } from "./dom.js";
import { BAD_AFTER, BAD_AROUND, BAD_HISTORY, prefix } from "./sentences.js";
import { localTime, parseLine, serverStamp } from "./loglines.js";
import { timeElement } from "./render.js";
import { markMatches } from "./text.js";
import { fillFormatted } from "./markdown.js";

const JUMP_REFUSALS = new Set([BAD_AROUND, BAD_AFTER]);
const PAGE = 50;

/**
 * hooks: channel() -> the channel to search; token() -> a token for the API or null; siteToken() -> the
 * token for a search of every channel (null: the channel's, or the session cookie); open(name) shows a channel;
 * send(request) -> whether it went out on the open socket; renderFrame(data) -> [<li>] for a history answer;
 * showAlert(text); onLive() (the live list is shown again); decrypted() -> [{item, text}] of the lines this
 * page decrypted (searched here: the server cannot).
 */
export function createFinder(hooks) {
  const ui = {
    form: $("search-form"), input: $("search"), all: $("search-all"), status: $("search-status"), results: $("results"),
    more: $("more-results"), gotoForm: $("goto-form"), gotoInput: $("goto"), log: $("log"),
    jumped: $("jumped"), bar: $("jump-bar"), where: $("jump-where"), live: $("live"), newLines: $("jump"),
  };
  let query = "";
  let next = null;        // cursor (one channel) or token (every channel) to search on from
  let everywhere = false; // the results on show are of every channel
  let waiting = null;     // {channel, cursor}: a result of another channel, to show once that channel is joined
  let searching = false;
  let pending = null;     // "new" or "newer": the jump request on its way
  let where = "";
  let start = null;       // before the first line of the jump view
  let end = null;         // after its last line
  let latest = true;      // nothing after the jump view's last line
  let older = false;      // an older page of the jump view is on its way
  let reachedStart = false;

  const active = () => !ui.jumped.hidden;

  async function search(more) {
    const channel = hooks.channel();
    if (!channel || searching) return;
    if (!more) {
      query = ui.input.value;
      next = null;
      everywhere = ui.all.checked;
      ui.results.replaceChildren();
    }
    if (!query.trim()) {
      ui.status.textContent = "Type something to search for.";
      return;
    }
    searching = true;
    ui.status.textContent = "Searching…";
    const params = new URLSearchParams({ q: query, limit: String(PAGE) });
    if (next) params.set("before", next);
    const token = everywhere ? hooks.siteToken() ?? hooks.token() : hooks.token();
    const path = everywhere ? "/api/search" : `/api/channels/${encodeURIComponent(channel)}/search`;
    try {
      const response = await fetch(`${path}?${params}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      const body = await response.json();
      if (!response.ok) {
        ui.status.textContent = body.error ?? `Search failed (HTTP ${response.status})`;
        return;
      }
      ui.results.append(...body.results.map((result) => resultItem(result)));
      if (!more && !everywhere) ui.results.append(...decryptedResults(query)); // only this page can read them
      next = body.next;
      const count = ui.results.children.length;
      const found = count === 0 ? "No lines found" : `${count} ${count === 1 ? "line" : "lines"} found`;
      const skipped = everywhere && body.encrypted?.length ? ` (not searched, encrypted: ${body.encrypted.join(", ")})` : "";
      ui.status.textContent = `${next ? `${found} so far` : found}${skipped}`;
      ui.more.hidden = !next;
    } catch {
      ui.status.textContent = "Search failed: the server did not answer.";
    } finally {
      searching = false;
    }
  }

  /** Results among the lines this page decrypted (the server cannot search ciphertext). */
  function decryptedResults(text) {
    const wanted = text.toLowerCase();
    return (hooks.decrypted?.() ?? []).filter((line) => line.text.toLowerCase().includes(wanted)).reverse()
      .map(({ item, text: shown }) => resultItem({
        line: `[${item.querySelector("time")?.title ?? ""}] ${item.dataset.author ?? ""}: ${shown}`,
        cursor: item.dataset.cursor,
      }));
  }

  function resultItem(result) {
    const parsed = parseLine(result.line);
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "result";
    if (parsed.time) {
      const shown = localTime(parsed.date, parsed.time);
      button.append(timeElement(parsed, shown, `${shown.date} ${shown.time}`), " ");
    }
    if (result.channel) {
      const where = document.createElement("span");
      where.className = "in-channel";
      where.textContent = `#${result.channel}`;
      button.append(where, " ");
    }
    const who = document.createElement("span");
    who.className = "handle";
    who.textContent = parsed.handle || "?";
    const text = document.createElement("span");
    text.className = "text";
    fillFormatted(text, parsed.text, (node, run) => { // formatted as in the log, the matches marked
      for (const piece of markMatches(run, query)) {
        if (piece.match) {
          const mark = document.createElement("mark");
          mark.textContent = piece.text;
          node.append(mark);
        } else {
          node.append(piece.text);
        }
      }
    });
    button.append(who, " ", text);
    button.addEventListener("click", () => {
      if (result.channel && result.channel !== hooks.channel()) {
        waiting = { channel: result.channel, cursor: result.cursor };
        hooks.open(result.channel); // shown once its join is taken (joined() below)
        joined(result.channel);
        return;
      }
      jump({ around: result.cursor }, "Lines around a search result");
    });
    item.append(button);
    return item;
  }

  /** A channel's join was taken: show the result of it that was chosen, if one waits for it. */
  function joined(channel) {
    if (!waiting || waiting.channel !== channel || hooks.channel() !== channel) return;
    if (hooks.send({ type: "history", limit: PAGE, around: waiting.cursor })) {
      waiting = null;
      pending = "new";
      where = `Lines around a search result in #${channel}`;
    }
  }

  function jump(request, description) {
    if (!hooks.send({ type: "history", limit: PAGE, ...request })) {
      hooks.showAlert("Connect to the channel to read its log around a line.");
      return;
    }
    pending = "new";
    where = description;
  }

  function show(data) {
    hooks.jumped?.(); // the phone's search panel gives the log back
    ui.jumped.replaceChildren(...hooks.renderFrame(data));
    start = data.cursor;
    end = data.end;
    latest = Boolean(data.latest);
    reachedStart = false;
    older = false;
    if ($("lines")) $("lines").hidden = true; // the live list of the channel on screen
    ui.newLines.hidden = true;
    ui.jumped.hidden = false;
    ui.bar.hidden = false;
    ui.where.textContent = data.message ? where : `${where}: no lines`;
    const marked = ui.jumped.children[data.mark ?? -1];
    if (marked) {
      marked.classList.add("marked");
      marked.setAttribute("aria-current", "true");
      marked.tabIndex = -1;
      marked.scrollIntoView({ block: "center" });
      marked.focus({ preventScroll: true });
    } else {
      ui.log.scrollTop = 0;
    }
  }

  function backToLive() {
    ui.jumped.hidden = true;
    ui.jumped.replaceChildren();
    ui.bar.hidden = true;
    if ($("lines")) $("lines").hidden = false;
    pending = null;
    older = false;
    ui.log.scrollTop = ui.log.scrollHeight;
    hooks.onLive();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(false);
  });
  ui.more.addEventListener("click", () => search(true));
  ui.gotoForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = ui.gotoInput.value; // "2026-11-22T14:00" from the date and time picker
    if (!value) {
      hooks.showAlert("Choose a date and time to go to.");
      return;
    }
    jump({ at: serverStamp(value) }, `Lines from ${value.replace("T", " ")}`); // the picker is local, the log the server's
  });
  ui.live.addEventListener("click", () => {
    backToLive();
  });
  ui.log.addEventListener("scroll", () => {
    if (!active()) return;
    if (ui.log.scrollTop < 10 && !older && !reachedStart && start && hooks.send({ type: "history", before: start, limit: 100 })) {
      older = true;
    }
    const bottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    if (bottom && !latest && !pending && hooks.send({ type: "history", after: end, limit: 100 })) {
      pending = "newer";
    }
  });

  return {
    active,
    send: hooks.send,
    /** Take a history answer meant for the jump view; return false if it is the live view's. */
    onHistory(data) {
      if (data.latest !== undefined && pending) {
        const kind = pending;
        pending = null;
        if (kind === "new") {
          show(data);
        } else if (active()) {
          ui.jumped.append(...hooks.renderFrame(data));
          end = data.end;
          latest = Boolean(data.latest);
        }
        return true;
      }
      if (active() && older) {
        older = false;
        if (!data.message) {
          reachedStart = true;
          return true;
        }
        const height = ui.log.scrollHeight;
        ui.jumped.prepend(...hooks.renderFrame(data));
        ui.log.scrollTop += ui.log.scrollHeight - height;
        start = data.cursor;
        return true;
      }
      return false;
    },
    /** A refusal: if it answers our jump, stop waiting for it. */
    onRefusal(message) {
      if (pending && (JUMP_REFUSALS.has(message) || message.startsWith(prefix(BAD_HISTORY)))) {
        pending = null;
      }
    },
    /** Show the lines around the line `cursor` names (the message a reply quotes). */
    jumpAround(cursor) {
      jump({ around: cursor }, "Lines around the message replied to");
    },
    joined,
    /** A new channel or connection: back to the live list, results of the old channel gone (not every channel's). */
    reset() {
      if (active()) backToLive();
      if (everywhere) return;
      ui.results.replaceChildren();
      ui.status.textContent = "";
      ui.more.hidden = true;
      next = null;
    },
  };
}
