// One channel's users (a name starts a private message; an operator gets moderation controls
// there) and who is typing; painted into the Users list and the typing line while it is on screen.
import { $ } from "./dom.js";
import { isBot, myHandle } from "./session.js";
import { typingSentence } from "./text.js";

function byName(a, b) {
  const x = a.toLocaleLowerCase();
  const y = b.toLocaleLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * hooks: startPrivate(handle) fills the composer; controls(handle) -> moderation buttons for it;
 * shown() -> whether this channel is the one on screen.
 */
export function createUsers(hooks) {
  const ui = { users: $("users"), typing: $("typing") };
  const typers = new Set();
  let names = [];

  function paintTyping() {
    if (hooks.shown()) ui.typing.textContent = typingSentence(typers);
  }

  function paint() {
    if (!hooks.shown()) return;
    ui.users.replaceChildren(...names.map((handle) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = handle;
      button.title = `Send ${handle} a private message`;
      button.addEventListener("click", () => hooks.startPrivate(handle));
      if (handle === myHandle()) item.className = "me";
      item.append(button);
      if (isBot(handle)) {
        const tag = document.createElement("span");
        tag.className = "bot-tag";
        tag.textContent = "bot";
        item.append(" ", tag);
      }
      item.append(...hooks.controls(handle));
      return item;
    }));
    paintTyping();
  }

  function set(users) {
    names = users;
    for (const handle of [...typers]) {
      if (!users.includes(handle)) typers.delete(handle);
    }
    paint();
  }

  return {
    paint,
    /** A whole presence list (on joining, or when the server cannot send a delta). */
    show(users) {
      set([...users].sort(byName));
    },
    /** A presence delta: who joined and who left since the list we have. */
    apply(joined, left) {
      const gone = new Set(left);
      set([...names.filter((handle) => !gone.has(handle)), ...joined].sort(byName));
    },
    names: () => names,
    count: () => names.length,
    typing(handle, typing) {
      if (typing) typers.add(handle); else typers.delete(handle);
      paintTyping();
    },
    clearTyping() {
      typers.clear();
      paintTyping();
    },
  };
}
