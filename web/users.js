// The Users list beside the log (a name starts a private message; an operator gets moderation
// controls there) and the "is typing" line under it.
import { $, session } from "./dom.js";
import { typingSentence } from "./lines.js";

/** hooks: startPrivate(handle) fills the composer; controls(handle) -> moderation buttons for it. */
export function createUsers(hooks) {
  const ui = { users: $("users"), typing: $("typing") };
  const typers = new Set();
  let shown = [];

  function showTyping() {
    ui.typing.textContent = typingSentence(typers);
  }

  return {
    /** A presence list: show it, and forget typers who left. */
    show(users) {
      shown = users;
      ui.users.replaceChildren(...users.map((handle) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = handle;
        button.title = `Send ${handle} a private message`;
        button.addEventListener("click", () => hooks.startPrivate(handle));
        if (handle === session.me) item.className = "me";
        item.append(button, ...hooks.controls(handle));
        return item;
      }));
      for (const handle of [...typers]) {
        if (!users.includes(handle)) typers.delete(handle);
      }
      showTyping();
    },
    count() {
      return shown.length;
    },
    typing(handle, typing) {
      if (typing) typers.add(handle); else typers.delete(handle);
      showTyping();
    },
    clearTyping() {
      typers.clear();
      showTyping();
    },
    clear() {
      shown = [];
      ui.users.replaceChildren();
    },
  };
}
