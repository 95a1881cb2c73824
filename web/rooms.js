// The open channels: the Channels sidebar (every channel, its users, its unread lines and mentions),
// which one is on screen, moving between them (a click, Alt+Up, Alt+Down), leaving one, and what is
// remembered across reloads. Each open channel is a room (room.js) with a socket of its own.
import { $, clearAlert, remember, remembered, showAlert } from "./dom.js";
import { createRoom } from "./room.js";
import { myHandle } from "./session.js";

const ROOMS_KEY = "wsserver.rooms";
const ACTIVE_KEY = "wsserver.active";
const READ_AFTER = 1000; // ms the bottom of the log must be in view (tab visible) before it counts as read
const TITLE = "wsserver";

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

function span(text, className) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  return node;
}

/**
 * The content of a channel's entry: its name on a line of its own (never cut short for its counts), and
 * under it the counts with their words ("3 unread, @1 mention, 2 users"), its accessible name
 * ("tech, 3 unread, 1 mention, 2 users"). The name is its content, not an aria-label, so that it holds
 * the visible text in the same order (WCAG 2.5.3, Label in Name: speech-input users say what they see).
 * The comma after the name is said, not shown (.said); the symbols (# of an open channel, @ of mentions)
 * are for the eye only.
 */
export function entryContent(name, counts, users, open) {
  const symbol = (text) => {
    const node = span(text, "symbol");
    node.setAttribute("aria-hidden", "true");
    return node;
  };
  const label = span(name, "room-name");
  if (open) label.prepend(symbol("# "));
  const shown = []; // [what is shown, the words after it]
  if (counts?.unread) shown.push([span(String(counts.unread), "badge"), " unread"]);
  if (counts?.mentions) {
    const mention = span(String(counts.mentions), "badge mention");
    mention.prepend(symbol("@"));
    shown.push([mention, counts.mentions === 1 ? " mention" : " mentions"]);
  }
  if (users !== undefined) shown.push([span(String(users), "room-users"), users === 1 ? " user" : " users"]);
  if (!shown.length) return [label];
  label.append(span(",", "said"));
  const rest = span("", "room-counts");
  shown.forEach(([node, words], i) => rest.append(node, span(i < shown.length - 1 ? `${words}, ` : words, "words")));
  return [label, rest];
}

/**
 * parts: moderation, finder, composer (shared); page: showChat(on) switches between the connect
 * screen and the chat view; notify(title, body); channelsChanged() asks for a fresh channel list;
 * labelChannel(name, users) shows a channel's count where the page lists channels.
 */
export function createRooms(parts, page) {
  const ui = { list: $("rooms"), title: $("room-title"), topic: $("room-topic"), state: $("state"), jumped: $("jumped"), drawer: $("drawer"),
    sidebar: $("sidebar") };
  const rooms = new Map();
  let active = null;
  let channels = []; // [{name, users}] from /api/channels
  let bottomSince = 0;
  let paintSoon = null;

  const shared = {
    ...parts,
    shown: (room) => room === active,
    topic(room) {
      if (room === active) showTopic(room);
    },
    state(room) {
      if (room.status.state === "connected") page.showChat(true); // the chat view, once a join was taken
      if (room === active) showState();
      if (room === active && room.status.state === "connected") parts.finder.joined(room.name);
    },
    changed() {
      // Many lines a second in busy channels: the sidebar and the title are painted at most every 50 ms.
      if (paintSoon) return;
      paintSoon = setTimeout(() => {
        paintSoon = null;
        paintList();
      }, 50);
    },
    ended(room, accepted) {
      if (!rooms.has(room.name)) return;
      rooms.delete(room.name);
      save();
      if (room === active) {
        parts.finder.reset();
        room.log.detach(); // its lines leave the log region with it
        active = null;
        const next = [...rooms.values()][0];
        if (next) activate(next); else page.showChat(false);
      }
      paintList();
      if (!accepted && !rooms.size) page.showChat(false);
      page.channelsChanged();
    },
    alert(room, text) {
      showAlert(room === active ? text : `${room.name}: ${text}`);
    },
    notify: (room, title, body) => page.notify(title, body),
  };

  function save() {
    remember(ROOMS_KEY, [...rooms.keys()]);
    remember(ACTIVE_KEY, active?.name ?? null);
  }

  function showState() {
    const status = active?.status ?? { state: "disconnected", text: "Disconnected" };
    ui.state.dataset.state = status.state;
    ui.state.textContent = status.text;
    parts.composer.enable(status.state === "connected");
  }

  function showTitle() {
    const total = [...rooms.values()].reduce((sum, room) => sum + room.counts().unread, 0);
    document.title = total ? `(${total}) ${TITLE}` : TITLE;
    // The drawer button keeps its name ("Channels"); the total is for the eye (the title says it too).
    const count = $("drawer-count");
    count.textContent = String(total);
    count.hidden = !total;
  }

  function entry(name, users) {
    const room = rooms.get(name);
    const counts = room?.counts();
    const item = document.createElement("li");
    item.className = room ? "open" : "";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "room";
    if (room === active && room) button.setAttribute("aria-current", "page");
    button.dataset.channel = name;
    button.append(...entryContent(name, counts, users, Boolean(room)));
    button.addEventListener("click", () => {
      open(name);
      drawer(false);
    });
    item.append(button);
    if (room) {
      const leave = document.createElement("button");
      leave.type = "button";
      leave.className = "leave";
      leave.textContent = "×";
      leave.setAttribute("aria-label", `Leave ${name}`);
      leave.addEventListener("click", () => room.close());
      item.append(leave);
    }
    return item;
  }

  function paintList() {
    const listed = channels.map(({ name, users }) => {
      const room = rooms.get(name);
      if (!room || room.status.state !== "connected") return [name, users];
      page.labelChannel(name, room.users.count()); // the users list of an open channel is the fresher count
      return [name, room.users.count()];
    });
    const extra = [...rooms.keys()].filter((name) => !channels.some((channel) => channel.name === name))
      .map((name) => [name, rooms.get(name).users.count()]);
    const focused = document.activeElement?.closest?.("#rooms li")?.querySelector(".room")?.dataset.channel;
    ui.list.replaceChildren(...[...listed, ...extra].map(([name, users]) => entry(name, users)));
    if (focused) {
      [...ui.list.querySelectorAll(".room")].find((button) => button.dataset.channel === focused)?.focus();
    }
    showTitle();
  }

  function activate(room) {
    if (active === room) return;
    parts.secrets.shown(room);
    if (active) {
      parts.composer.switching();
      parts.files.switching();
      parts.finder.reset();
      active.log.detach();
    }
    active = room;
    parts.composer.restore(room.name);
    bottomSince = 0;
    ui.title.textContent = room.name;
    $("people-toggle-name").textContent = room.name; // the phone's header: the name opens the Users drawer
    showTopic(room);
    room.log.divide(room.position, room.baseline);
    room.log.attach(ui.jumped);
    room.users.paint();
    showState();
    paintList();
    save();
  }

  /** The channel's topic under its name (docs/protocol.md "topic"); none: hidden. */
  function showTopic(room) {
    ui.topic.textContent = room.topic ?? "";
    ui.topic.hidden = !room.topic;
  }

  /** Open `name` (a socket of its own) if it is not, and show it. */
  function open(name) {
    clearAlert();
    let room = rooms.get(name);
    if (!room) {
      room = createRoom(name, shared);
      rooms.set(name, room);
      room.open();
    }
    activate(room);
  }

  function move(step) {
    const names = [...ui.list.querySelectorAll("li.open .room")].map((node) => node.dataset.channel);
    if (names.length < 2 || !active) return;
    const next = names[(names.indexOf(active.name) + step + names.length) % names.length];
    activate(rooms.get(next));
    ui.list.querySelector(".room[aria-current]")?.focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown") && rooms.size) {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    }
  });
  function drawer(open) {
    ui.sidebar.classList.toggle("open", open);
    ui.drawer.setAttribute("aria-expanded", String(open));
  }
  ui.drawer.addEventListener("click", () => {
    drawer(!ui.sidebar.classList.contains("open"));
    if (ui.sidebar.classList.contains("open")) ui.list.querySelector(".room")?.focus();
  });
  ui.sidebar.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.sidebar.classList.contains("open")) {
      drawer(false);
      ui.drawer.focus();
    }
  });
  // The open drawer covers the button that opened it: it closes from its own button, or a tap beside it.
  $("drawer-close").addEventListener("click", () => {
    drawer(false);
    ui.drawer.focus();
  });
  $("room").addEventListener("click", (event) => {
    if (ui.sidebar.classList.contains("open") && !event.target.closest("#drawer")) drawer(false);
  });

  // Reading: the bottom of the log on screen for a second, while the tab is visible, marks it read.
  setInterval(() => {
    const looking = active && document.visibilityState === "visible" && !parts.finder.active() && active.log.nearBottom();
    if (!looking || !active.behind()) {
      bottomSince = 0;
      return;
    }
    bottomSince ||= Date.now();
    if (Date.now() - bottomSince >= READ_AFTER) {
      active.markRead();
      bottomSince = 0;
    }
  }, 200);
  document.addEventListener("visibilitychange", () => { bottomSince = 0; });

  return {
    open,
    rooms,
    active: () => active,
    /** The channel list from /api/channels: [{name, users}]. */
    channels(list) {
      channels = list;
      paintList();
    },
    /** Close every socket; nothing is reopened on the next load. */
    closeAll() {
      for (const room of [...rooms.values()]) room.close();
      remember(ROOMS_KEY, null);
      remember(ACTIVE_KEY, null);
    },
    /** The channels open at the last visit (and the one that was on screen), for this handle. */
    saved: () => ({ names: remembered(ROOMS_KEY, []), active: remembered(ACTIVE_KEY, null) }),
    send: (request, joined = false) => active?.connection.send(request, joined) ?? false,
    me: () => myHandle(),
  };
}
