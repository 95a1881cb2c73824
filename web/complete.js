// Completing "@" and letters in the message box with the handles of the channel on screen: a
// listbox under the box; Up and Down choose, Tab or Enter accept, Escape dismisses.
import { $ } from "./dom.js";
import { completions, mentionAt } from "./text.js";

/** hooks: handles() -> the handles of the channel on screen; changed() after the text was completed. */
export function createCompletion(hooks) {
  const box = $("message");
  const list = $("mentions");
  let options = [];
  let chosen = 0;
  let at = null; // {from, query} of the "@word" being completed

  function close() {
    options = [];
    at = null;
    list.hidden = true;
    list.replaceChildren();
    box.removeAttribute("aria-activedescendant");
  }

  function paint() {
    list.replaceChildren(...options.map((handle, index) => {
      const option = document.createElement("li");
      option.id = `mention-${index}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === chosen));
      option.textContent = handle;
      option.addEventListener("mousedown", (event) => {
        event.preventDefault(); // keep the focus in the box
        chosen = index;
        accept();
      });
      return option;
    }));
    list.hidden = false;
    box.setAttribute("aria-activedescendant", `mention-${chosen}`);
  }

  function accept() {
    const handle = options[chosen];
    const end = at.from + 1 + at.query.length;
    const after = box.value.slice(end);
    box.value = `${box.value.slice(0, at.from)}@${handle}${after.startsWith(" ") ? "" : " "}${after}`;
    const caret = at.from + handle.length + 2;
    box.setSelectionRange(caret, caret);
    close();
    hooks.changed();
  }

  box.addEventListener("input", () => {
    at = mentionAt(box.value, box.selectionStart);
    options = at ? completions(at.query, hooks.handles()) : [];
    if (!options.length) {
      close();
      return;
    }
    chosen = 0;
    paint();
  });
  box.addEventListener("blur", close);

  return {
    /** Take a key of the message box; return true if it was the completion's. */
    key(event) {
      if (list.hidden || !options.length) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        chosen = (chosen + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
        paint();
      } else if (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey)) {
        accept();
      } else if (event.key === "Escape") {
        close();
      } else {
        return false;
      }
      event.preventDefault();
      return true;
    },
    close,
  };
}
