// What every part of the page shares: finding its elements, the one alert, what the browser remembers.
// Who we are and the server's rules are session.js's.
export const $ = (id) => document.getElementById(id);

export function showAlert(text) {
  const alert = $("alert");
  alert.textContent = text;
  alert.hidden = false;
}

export function clearAlert() {
  const alert = $("alert");
  alert.textContent = "";
  alert.hidden = true;
}

/** What this browser remembers for the page (localStorage, as JSON); `fallback` when nothing or refused. */
export function remembered(key, fallback) {
  try {
    const value = localStorage.getItem(key);
    return value === null ? fallback : JSON.parse(value);
  } catch {
    return fallback; // storage refused (a private window's policy), or not ours
  }
}

/** Remember `value` for the page (null forgets it); nothing happens where storage is refused. */
export function remember(key, value) {
  try {
    if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage refused: nothing is remembered
  }
}
