// One channel's log on the page: its own list of lines (shown in the log region while the channel is
// on screen), live lines appended with the view kept at the bottom (or a button counting the new
// ones), older lines paged in at the top, and what is unread after the reader's position.
import { $ } from "./dom.js";
import { appendFolded, prependFolded } from "./fold.js";
import { byTime, linkNew, placeByTime, placeDivider, relinkAll } from "./grouping.js";
import { renderLine } from "./render.js";

/**
 * hooks: decorate(item, parsed, cursor, deleted, live) adds moderation controls; annotate(item, parsed,
 * cursor, index, data, live) shows reactions, replies and edits and offers their actions; reveal(item,
 * parsed) decrypts a private line; decoratePrivate(item, parsed, cursor, live) offers our own live private
 * line's Delete; jumpActive() says a
 * jump view hides the live list; send(request) -> whether it went out; shown() -> whether this
 * channel is the one on screen; me() -> our handle.
 */
export function createLogView(hooks) {
  const ui = { log: $("log"), jump: $("jump") };
  const list = document.createElement("ol");
  list.className = "lines";
  let oldest = null;        // before the first line shown: page back from here
  let loadingOlder = false;
  let reachedStart = false;
  let newBelow = 0;         // lines that arrived while scrolled up
  // The lines with cursors, in log order, and what each counts for: the unread count is the
  // number of others' lines after the read position (cursors are compared only for equality).
  const entries = [];       // {cursor, item, counts, mention}

  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  }

  function entryOf(item, parsed, cursor) {
    const counts = !parsed.system && !parsed.to && parsed.handle !== hooks.me() && parsed.handle !== "";
    return { cursor, item, counts, mention: counts && item.classList.contains("mentions-me") };
  }

  /** Render the lines of a frame or a history answer: [{item, parsed, cursor}]. */
  function render(data, live = false) {
    const deleted = new Set(data.deleted ?? []);
    const lines = data.message ? data.message.split("\n") : [];
    return lines.map((line, index) => {
      const cursor = data.cursors?.[index] ?? null;
      const { item, parsed } = renderLine(line);
      hooks.decorate(item, parsed, cursor, deleted.has(index), live);
      hooks.annotate(item, parsed, cursor, index, data, live);
      return { item, parsed, cursor };
    });
  }

  /** Render private lines (the data of `private` events) as rows marked with their cursor in the private log. */
  function renderPrivate(events) {
    return (events ?? []).map((data) => {
      const { item, parsed } = renderLine(data.message);
      if (data.cursor) item.dataset.private = data.cursor;
      hooks.reveal(item, parsed);
      hooks.decoratePrivate(item, parsed, data.cursor, !data.history);
      return { item, parsed };
    });
  }

  /** Whether the private line of cursor `cursor` is shown already (a backlog and a live event may both carry it). */
  const hasPrivate = (cursor) => Boolean(cursor) && [...list.querySelectorAll("li[data-private]")].some((item) => item.dataset.private === cursor);

  function showJumpCount() {
    ui.jump.textContent = newBelow > 0 ? `New messages: ${newBelow} ↓` : "New messages ↓";
    ui.jump.hidden = false;
  }

  function appendItems(items) {
    if (!items.length) return;
    const shown = hooks.shown() && !hooks.jumpActive();
    const follow = shown && nearBottom();
    appendFolded(list, items);
    linkNew(list);
    if (!hooks.shown()) return;
    if (follow) {
      ui.log.scrollTop = ui.log.scrollHeight;
    } else if (shown) {
      newBelow += items.filter((item) => item.classList.contains("line")).length;
      showJumpCount();
    }
  }

  function loadOlder() {
    if (loadingOlder || reachedStart || oldest === null) return;
    if (hooks.send({ type: "history", before: oldest, limit: 100 })) loadingOlder = true;
  }

  ui.log.addEventListener("scroll", () => {
    if (!hooks.shown() || hooks.jumpActive()) return; // the jump view pages itself
    if (nearBottom()) {
      ui.jump.hidden = true;
      newBelow = 0;
    }
    if (ui.log.scrollTop < 10) loadOlder();
  });

  ui.jump.addEventListener("click", () => {
    if (!hooks.shown()) return;
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.jump.hidden = true;
    newBelow = 0;
    $("message").focus();
  });

  /**
   * The index of the last line read: the one at the server's `position` (a cursor) if there is
   * one (not among the lines shown: it is older, -1), else the last one before `mark` (see mark()),
   * else the last line.
   */
  function readIndex(position, mark) {
    if (position !== null) return entries.findLastIndex((entry) => entry.cursor === position);
    if (mark) return mark.after ? entries.indexOf(mark.after) : -1;
    return entries.length - 1;
  }

  return {
    list,
    nearBottom,
    /** Lines for the jump view (search.js): rendered, not kept here. */
    renderFrame: (data) => byTime(render(data).map(({ item }) => item), renderPrivate(data.private).map(({ item }) => item)),
    /** Live lines (a lines frame): shown at the end. */
    appendLines(data) {
      if (oldest === null && data.start) oldest = data.start; // the first lines shown: older ones are before this
      const rendered = render(data, true);
      for (const { item, parsed, cursor } of rendered) {
        if (cursor) entries.push(entryOf(item, parsed, cursor));
      }
      appendItems(rendered.map(({ item }) => item));
      return rendered;
    },
    /**
     * A private line (a `private` event's data): a live one at the end, one of a backlog among the lines
     * by its time. Returns {item, parsed}, or null for one shown already.
     */
    privateLine(data) {
      if (hasPrivate(data.cursor)) return null;
      const [rendered] = renderPrivate([data]);
      if (data.history) {
        placeByTime(list, rendered.item);
        relinkAll(list);
      } else {
        appendItems([rendered.item]);
      }
      return rendered;
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
      if (!loadingOlder) return; // not ours (a jump of a channel left meanwhile)
      loadingOlder = false;
      if (!data.message) {
        reachedStart = true;
        return;
      }
      const before = ui.log.scrollHeight;
      const rendered = render(data);
      entries.unshift(...rendered.filter(({ cursor }) => cursor).map(({ item, parsed, cursor }) => entryOf(item, parsed, cursor)));
      const own = renderPrivate(data.private).filter(({ item }) => !hasPrivate(item.dataset.private));
      prependFolded(list, byTime(rendered.map(({ item }) => item), own.map(({ item }) => item)));
      relinkAll(list);
      if (hooks.shown()) ui.log.scrollTop += ui.log.scrollHeight - before;
      oldest = data.cursor;
    },
    /** Start again (a resume the server could not replay exactly). */
    reset() {
      oldest = null;
      loadingOlder = false;
      reachedStart = false;
      entries.length = 0;
      list.replaceChildren();
    },
    /** The cursor of the last line with one (what "read up to here" names), or null. */
    lastCursor: () => entries.at(-1)?.cursor ?? null,
    /** Where the lines shown so far end (for readIndex): what a first join without a stored position has read. */
    mark: () => ({ after: entries.at(-1) ?? null }),
    /** Whether lines came after the read position (`position`, or `mark`). */
    behind: (position, mark) => readIndex(position, mark) < entries.length - 1,
    /** Unread lines after the read position and how many of them mention us. */
    unread(position, mark) {
      let lines = 0;
      let mentions = 0;
      for (const entry of entries.slice(readIndex(position, mark) + 1)) {
        if (entry.counts) lines += 1;
        if (entry.mention) mentions += 1;
      }
      return { lines, mentions };
    },
    /** Put "New messages" before the first unread line after the read position (none: no divider). */
    divide(position, mark) {
      const first = entries.slice(readIndex(position, mark) + 1).find((entry) => entry.counts);
      placeDivider(list, first?.item ?? null);
    },
    /** This channel came on screen: its list in the log region, at the bottom (or at the divider). */
    attach(jumped) {
      list.id = "lines";
      ui.log.insertBefore(list, jumped);
      newBelow = 0;
      ui.jump.hidden = true;
      const divider = list.querySelector(":scope > li.divider");
      if (divider) divider.scrollIntoView({ block: "start" }); else ui.log.scrollTop = ui.log.scrollHeight;
    },
    detach() {
      list.removeAttribute("id");
      list.remove();
    },
    hideJump() {
      ui.jump.hidden = true;
      newBelow = 0;
    },
    toBottom() {
      ui.log.scrollTop = ui.log.scrollHeight;
    },
  };
}
