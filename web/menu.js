// The channel's menu (a button in the channel's header, aria-haspopup="menu"), the Users drawer and the
// Search panel of the phone layout. At every width the menu holds Encrypt with passphrase; below 600 px
// it also holds what the header and the search bar hold on a wide screen (Users, Search, Go to date,
// Notifications, Dark theme, Formatting help, Account, Disconnect), each item doing what its twin does.
// Keys as the ARIA menu pattern has them: Down/Up/Home/End move, Enter and Space choose, Escape and Tab
// close (Escape back to the button).
import { $ } from "./dom.js";

const PHONE = matchMedia("(max-width: 599px)");

export function setUpMenu() {
  const ui = {
    button: $("channel-menu-button"), menu: $("channel-menu"), people: $("people"), peopleToggle: $("people-toggle"),
    find: $("find"), findClose: $("find-close"), search: $("search"), goto: $("goto"),
  };
  const items = () => [...ui.menu.querySelectorAll("[role^=menuitem]")].filter((item) => item.offsetParent !== null);

  function sync() {
    for (const item of ui.menu.querySelectorAll("[data-mirrors]")) {
      item.setAttribute("aria-checked", $(item.dataset.mirrors)?.getAttribute("aria-pressed") ?? "false");
    }
    for (const item of ui.menu.querySelectorAll("[data-clicks]")) {
      const twin = $(item.dataset.clicks);
      item.parentElement.hidden = !twin || twin.hidden; // Account: only with accounts
    }
  }

  function open(focusLast = false) {
    sync();
    ui.menu.hidden = false;
    ui.button.setAttribute("aria-expanded", "true");
    const list = items();
    (focusLast ? list.at(-1) : list[0])?.focus();
  }

  function close(toButton = true) {
    if (ui.menu.hidden) return;
    ui.menu.hidden = true;
    ui.button.setAttribute("aria-expanded", "false");
    if (toButton) ui.button.focus();
  }

  ui.button.addEventListener("click", () => (ui.menu.hidden ? open() : close()));
  ui.button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      open(event.key === "ArrowUp");
    }
  });
  ui.menu.addEventListener("keydown", (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      list[(moves[event.key] + list.length) % list.length]?.focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  ui.menu.addEventListener("click", (event) => {
    const item = event.target.closest("[role^=menuitem]");
    if (!item) return;
    if (item.dataset.mirrors) $(item.dataset.mirrors)?.click();
    if (item.dataset.clicks) $(item.dataset.clicks)?.click();
    // Back to the menu's button, unless the item opened something that took the focus (a dialog, a panel).
    close(!item.dataset.opens && !document.querySelector("dialog[open]"));
    if (item.dataset.opens === "people") people(true);
    if (item.dataset.opens === "search") panel(true, ui.search);
    if (item.dataset.opens === "goto") panel(true, ui.goto);
  });
  document.addEventListener("click", (event) => {
    if (!ui.menu.hidden && !event.target.closest(".channel-menu")) close(false);
  });

  // The Users drawer (phone): from the channel's name or the menu; Escape or a choice closes it.
  function people(on) {
    ui.people.classList.toggle("open", on);
    ui.peopleToggle.setAttribute("aria-expanded", String(on));
    if (on) ui.people.querySelector("button")?.focus();
  }
  ui.peopleToggle.addEventListener("click", () => people(!ui.people.classList.contains("open")));
  ui.people.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.people.classList.contains("open")) {
      event.preventDefault();
      people(false);
      ui.peopleToggle.focus();
    }
  });
  ui.people.addEventListener("click", (event) => {
    if (PHONE.matches && event.target.closest("button")) people(false); // a name chosen: the drawer's work is done
  });

  // Search and Go to date (phone): a panel over the log; Escape or its Close button closes it.
  function panel(on, field) {
    ui.find.classList.toggle("open", on);
    if (on) field?.focus();
    else ui.button.focus();
  }
  ui.findClose.addEventListener("click", () => panel(false));
  ui.find.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.find.classList.contains("open")) {
      event.preventDefault();
      panel(false);
    }
  });
  PHONE.addEventListener("change", () => {
    people(false);
    ui.find.classList.remove("open");
  });

  return {
    /** A search result or a date was chosen: the panel gives the log back (phone). */
    done() {
      if (PHONE.matches) ui.find.classList.remove("open");
    },
  };
}
