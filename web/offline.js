// Installable and offline: the service worker (sw.js) registered under the page's version, and what
// the page says when the server cannot be reached at load ("Offline: reconnecting"), until it can.
import { $ } from "./dom.js";

const RETRY_MS = 3000;

/** Whether an HTTP status is a proxy's answer for a server that is down (NGINX: 502, 503, 504). */
export function proxyDown(status) {
  return status >= 502 && status <= 504;
}

/** Register the service worker for `version` (from /api/settings); a new version replaces the old one. */
export function registerWorker(version) {
  if (!("serviceWorker" in navigator) || !version) return;
  navigator.serviceWorker.register(`/sw.js?v=${encodeURIComponent(version)}`, { scope: "/" }).catch(() => {
    // No worker (a browser that refuses it, a plain-http address other than localhost): the page works without.
  });
}

/** The server did not answer at load: say so, and load the page again once it answers. */
export function waitForServer() {
  const state = $("state");
  state.dataset.state = "reconnecting";
  state.textContent = "Offline: reconnecting";
  const retry = async () => {
    try {
      const response = await fetch("/api/settings", { cache: "no-store" });
      if (!proxyDown(response.status)) {
        location.reload();
        return;
      }
    } catch {
      // still away
    }
    setTimeout(retry, RETRY_MS);
  };
  window.addEventListener("online", () => { retry(); }, { once: true });
  setTimeout(retry, RETRY_MS);
}
