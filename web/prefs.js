// What a person sets for this browser: the theme (the system's, or dark or light chosen here) and
// system notifications of mentions and private lines while the page is hidden. Kept in localStorage.
import { $, remember, remembered } from "./dom.js";

const THEME_KEY = "wsserver.theme";
const BAR = { light: "#0b5cad", dark: "#15171c" }; // the theme-color of each theme (index.html, the manifest)
const NOTIFY_KEY = "wsserver.notify";

/** The theme toggle: pressed means dark. Without a choice made here, the system's preference. */
export function setUpTheme() {
  const button = $("theme");
  const media = matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    const choice = remembered(THEME_KEY, null);
    const dark = choice ? choice === "dark" : media.matches;
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    button.setAttribute("aria-pressed", String(dark));
    for (const meta of document.querySelectorAll('meta[name="theme-color"]')) {
      // Chosen here: the browser's bar follows the choice; else each media query's own colour.
      meta.content = choice ? BAR[dark ? "dark" : "light"] : BAR[meta.media.includes("dark") ? "dark" : "light"];
    }
  };
  button.addEventListener("click", () => {
    remember(THEME_KEY, document.documentElement.dataset.theme === "dark" ? "light" : "dark");
    apply();
  });
  media.addEventListener("change", apply);
  apply();
}

/** The Notifications toggle (off until turned on, which asks the browser); returns notify(title, body). */
export function setUpNotifications() {
  const button = $("notify");
  const supported = typeof Notification !== "undefined";
  let on = supported && remembered(NOTIFY_KEY, null) === "on" && Notification.permission === "granted";
  const show = () => button.setAttribute("aria-pressed", String(on));
  button.addEventListener("click", async () => {
    if (!supported) {
      button.title = "This browser cannot show notifications";
      return;
    }
    if (on) {
      on = false;
    } else {
      on = (Notification.permission === "granted" ? "granted" : await Notification.requestPermission()) === "granted";
      if (!on) button.title = "The browser did not allow notifications for this page";
    }
    remember(NOTIFY_KEY, on ? "on" : null);
    show();
  });
  show();
  return (title, body) => {
    if (!on || document.visibilityState === "visible") return;
    const notification = new Notification(title, { body: body.slice(0, 200), tag: title });
    notification.addEventListener("click", () => window.focus());
  };
}
