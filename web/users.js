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

  function byName(a, b) {
    const x = a.toLocaleLowerCase();
    const y = b.toLocaleLowerCase();
    return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
  }

  return {
    /** A whole presence list (on joining, or when the server cannot send a delta): show it. */
    show(users) {
      this.render(users);
    },
    /** A presence delta: who joined and who left since the list we have. */
    apply(joined, left) {
      const gone = new Set(left);
      this.render([...shown.filter((handle) => !gone.has(handle)), ...joined].sort(byName));
    },
    render(users) {
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
