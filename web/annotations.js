// Reactions, replies and threads, edits on the page. The server tells each line's annotations with
// the line (maps keyed by its index in a frame) and each change as an event; this module shows
// them on a rendered line (chips, a quote of the parent, "N replies", "(edited)") and offers the
// actions (React, Reply, Edit) on hover and on keyboard focus. Cursors stay opaque.
import { $ } from "./dom.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { fillText, markEdited } from "./render.js";
import { isEnvelope } from "./e2e.js";
import { shownTime, unescapeText } from "./loglines.js";
import { serverRules } from "./session.js";

const CHOICES = ["👍", "❤️", "😂", "🎉", "😮", "🙏"]; // offered first; any other emoji can be typed

const same = (a, b) => a.toLowerCase() === b.toLowerCase();
const byCursor = (root, cursor) => root.querySelectorAll(`li.line[data-cursor="${CSS.escape(cursor)}"]`);

/**
 * hooks: send(request) -> whether it went out (on the channel on screen); me() -> our handle;
 * lists() -> the lists that show the channel on screen (live, jump view); jumpAround(cursor);
 * replyTo(cursor, label) starts a reply in the message box; showFile(item, file) shows a shared file;
 * revealText(item, envelope) shows an encrypted text in clear where it can;
 * showAlert(text).
 */
export function createAnnotations(hooks) {
  const react = { dialog: $("react-dialog"), form: $("react-form"), choices: $("react-choices"), other: $("react-other") };
  const thread = {
    dialog: $("thread-dialog"), lines: $("thread-lines"), form: $("thread-form"), message: $("thread-message"),
    more: $("thread-more"), root: null, last: null, render: null,
  };
  let reacting = null; // the cursor a reaction is being chosen for

  // ------------------------------------------------------------ reactions

  function chips(item, reactions) {
    item.querySelector(":scope > .reactions")?.remove();
    const entries = Object.entries(reactions ?? {});
    if (!entries.length) return;
    const row = document.createElement("span");
    row.className = "reactions";
    for (const [emoji, who] of entries) {
      const mine = who.some((handle) => same(handle, hooks.me()));
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = `${emoji} ${who.length}`;
      chip.setAttribute("aria-label", `${emoji} ${who.length}: ${who.join(", ")}`);
      chip.setAttribute("aria-pressed", String(mine));
      chip.addEventListener("click", () => sendReaction(item.dataset.cursor, emoji, mine));
      row.append(chip);
    }
    item.querySelector(":scope > .actions")?.before(row) ?? item.append(row);
  }

  function sendReaction(cursor, emoji, remove) {
    const request = { type: "react", cursor, emoji };
    if (remove) request.remove = true;
    if (!hooks.send(request)) hooks.showAlert("Not connected: nothing was done.");
  }

  for (const emoji of CHOICES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice";
    button.textContent = emoji;
    button.setAttribute("aria-label", `React with ${emoji}`);
    button.addEventListener("click", () => {
      react.dialog.close();
      if (reacting) sendReaction(reacting, emoji, false);
      reacting = null;
    });
    react.choices.append(button);
  }
  react.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const emoji = react.other.value.trim();
    react.dialog.close();
    if (reacting && emoji) sendReaction(reacting, emoji, false); // the server says if it is not one emoji
    reacting = null;
  });
  $("react-cancel").addEventListener("click", () => {
    reacting = null;
    react.dialog.close();
  });

  // ------------------------------------------------------------ edits

  function showEdit(item, text) {
    const span = item.querySelector(":scope > .text");
    if (!span) return;
    span.replaceChildren();
    item.dataset.edited = "true";
    if (isEnvelope(text)) hooks.revealText(item, text); // an encrypted edit: in clear if this page can read it
    else fillText(span, unescapeText(text));
    markEdited(item);
    // The quotes of this line in replies follow its text.
    for (const list of [...hooks.lists(), thread.lines]) {
      for (const button of list.querySelectorAll(`.quote[data-parent="${CSS.escape(item.dataset.cursor ?? "")}"]`)) {
        showQuote(button, item.dataset.author, span);
      }
    }
  }

  function startEdit(item, parsed) {
    const span = item.querySelector(":scope > .text");
    if (!span || item.querySelector(":scope > .editor")) return;
    const editor = document.createElement("textarea");
    editor.className = "editor";
    editor.rows = 2;
    editor.value = span.dataset.source ?? span.textContent;
    editor.setAttribute("aria-label", `New text of your line of ${shownTime(parsed)}: Enter saves, Escape cancels`);
    span.hidden = true;
    span.after(editor);
    editor.focus();
    const done = () => {
      editor.remove();
      span.hidden = false;
      item.querySelector(".action-edit")?.focus();
    };
    editor.addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation(); // the thread dialog stays open
        done();
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        if (editor.value.trim() && editor.value !== (span.dataset.source ?? span.textContent)
            && !hooks.send({ type: "edit", cursor: item.dataset.cursor, message: editor.value })) {
          hooks.showAlert("Not connected: nothing was done.");
        }
        done();
      }
    });
  }

  // ------------------------------------------------------------ replies and threads

  function quote(item, parent) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quote";
    button.dataset.parent = parent;
    button.textContent = "↪ an earlier message";
    button.addEventListener("click", () => hooks.jumpAround(parent));
    item.querySelector(":scope > .handle, :scope > .text")?.before(button);
    // The parent may be in the same frame, rendered but not yet in a list: look once it is.
    queueMicrotask(() => {
      const lists = [...hooks.lists(), thread.lines];
      const source = lists.map((list) => byCursor(list, parent)[0]).find(Boolean);
      const who = source?.dataset.author;
      if (who) showQuote(button, who, source.querySelector(":scope > .text"));
    });
  }

  /** A quote's text: the parent's, formatted as it is when it is one paragraph (a button holds no blocks). */
  function showQuote(button, who, text) {
    const inline = text && !text.querySelector("p, div, pre, ul, ol, blockquote, button");
    button.replaceChildren(`↪ ${who}: `, ...(inline ? [...text.childNodes].map((node) => node.cloneNode(true))
      : [text?.dataset.source ?? text?.textContent ?? ""]));
    for (const link of button.querySelectorAll("a")) link.replaceWith(link.textContent); // no link in a button
    for (const mark of button.querySelectorAll(".edited")) mark.remove();
    button.normalize();
    if (button.lastChild?.nodeType === Node.TEXT_NODE) button.lastChild.textContent = button.lastChild.textContent.trimEnd();
  }

  function replies(item, summary) {
    item.querySelector(":scope > .replies")?.remove();
    if (!summary?.replies) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "replies";
    button.textContent = `${summary.replies} ${summary.replies === 1 ? "reply" : "replies"}`;
    button.addEventListener("click", () => openThread(item.dataset.cursor));
    (item.querySelector(":scope > .reactions") ?? item.querySelector(":scope > .actions"))?.before(button)
      ?? item.append(button);
  }

  function openThread(root) {
    thread.root = root;
    thread.last = null;
    thread.lines.replaceChildren();
    thread.more.hidden = true;
    if (!hooks.send({ type: "thread", cursor: root })) {
      hooks.showAlert("Not connected: nothing was done.");
      return;
    }
    thread.message.value = loadDraft(hooks.channel(), root);
    if (!thread.dialog.open) thread.dialog.showModal();
    thread.message.focus();
  }

  thread.more.addEventListener("click", () => {
    if (thread.root && thread.last) hooks.send({ type: "thread", cursor: thread.root, after: thread.last });
  });
  $("thread-close").addEventListener("click", () => thread.dialog.close());
  thread.dialog.addEventListener("close", () => {
    thread.root = null;
  });
  function sendInThread() {
    const text = thread.message.value;
    if (!text.trim() || !thread.root) return;
    if (hooks.send({ type: "chat", message: text, reply_to: thread.last ?? thread.root })) {
      thread.message.value = "";
      saveDraft(hooks.channel(), "", thread.root);
    } else {
      hooks.showAlert("Not connected: nothing was done.");
    }
  }
  thread.form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendInThread();
  });
  thread.message.addEventListener("input", () => {
    if (thread.root) saveDraft(hooks.channel(), thread.message.value, thread.root);
  });
  thread.message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendInThread();
    }
  });

  // ------------------------------------------------------------ the actions of a line

  function actions(item, parsed, live) {
    const row = document.createElement("span");
    row.className = "actions";
    const add = (label, name, described, run) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `action action-${name}`;
      button.textContent = label;
      button.setAttribute("aria-label", described);
      button.addEventListener("click", run);
      row.append(button);
    };
    add("React", "react", `React to ${parsed.handle}, ${shownTime(parsed)}`, () => {
      reacting = item.dataset.cursor;
      react.other.value = "";
      react.dialog.showModal();
      react.choices.querySelector("button")?.focus();
    });
    add("Reply", "reply", `Reply to ${parsed.handle}, ${shownTime(parsed)}`, () => {
      if (thread.dialog.open) {
        thread.message.focus();
      } else {
        const text = item.querySelector(":scope > .text");
        hooks.replyTo(item.dataset.cursor, `${parsed.handle}: ${text?.dataset.source ?? text?.textContent ?? ""}`);
      }
    });
    const sent = Number(item.dataset.at) * 1000;
    if (same(parsed.handle, hooks.me()) && (live || Date.now() - sent < serverRules().editLineMs)) {
      add("Edit", "edit", `Edit your line of ${shownTime(parsed)}`, () => startEdit(item, parsed));
    }
    item.append(" ", row);
  }

  return {
    /** Show what the frame `data` says of its line `index` on the rendered `item`, and offer the actions. */
    annotate(item, parsed, cursor, index, data, live) {
      if (!cursor || parsed.system || parsed.to || item.classList.contains("deleted")) return;
      const at = String(index);
      if (data.files?.[at]) hooks.showFile(item, data.files[at]);
      if (data.reply_to?.[at]) quote(item, data.reply_to[at]);
      if (data.edited?.[at] !== undefined) showEdit(item, data.edited[at]);
      actions(item, parsed, live);
      chips(item, data.reactions?.[at]);
      replies(item, data.threads?.[at]);
    },
    /** A live event of the channel on screen (or of another channel: `lists` are that channel's). */
    apply(event, data, lists) {
      if (event === "thread" && data.root !== undefined) {
        showThread(data);
        return;
      }
      for (const list of [...lists, thread.lines]) {
        for (const item of byCursor(list, data.cursor)) {
          if (event === "reactions") chips(item, data.reactions);
          if (event === "edited") showEdit(item, data.message);
          if (event === "thread") replies(item, { replies: data.replies });
        }
      }
      if (event === "thread" && thread.root === data.cursor && thread.dialog.open && thread.last !== data.last) {
        hooks.send({ type: "thread", cursor: thread.root, after: thread.last ?? thread.root }); // the new replies
      }
    },
    /** How thread answers are rendered: render(data) -> [<li>] (the channel's own rendering). */
    renderWith(render) {
      thread.render = render;
    },
  };

  function showThread(data) {
    if (data.root !== thread.root || !thread.render) return;
    thread.lines.append(...thread.render(data));
    thread.last = (data.cursors ?? []).filter((cursor) => cursor !== data.root).at(-1) ?? thread.last;
    thread.more.hidden = !data.more;
  }
}
