// The page's parts, made once and joined: the shared ones (composer, search, moderation dialog)
// act on the channel on screen; the rooms (rooms.js) hold each open channel's socket and log.
import { createAnnotations } from "./annotations.js";
import { createComposer } from "./composer.js";
import { $, clearAlert, showAlert } from "./dom.js";
import { createFiles } from "./files.js";
import { createSecrets } from "./secrets.js";
import { createModeration, tokenOperator } from "./moderation.js";
import { createRooms } from "./rooms.js";
import { createFinder } from "./search.js";
import { setUpMenu } from "./menu.js";
import { myHandle, siteToken } from "./session.js";

const FILES_NOT_ENCRYPTED = "Files are not encrypted: turn the passphrase off to share one";

/** page: showChat(on); notify(title, body); channelsChanged(); labelChannel(name, users). Returns the rooms. */
export function composeParts(page) {
  let rooms = null;
  const onScreen = () => rooms.active();
  // Requests that need the join taken (moderation, jumps) and those that need only the socket.
  const sendJoined = (request) => rooms.send(request, true);
  const send = (request) => rooms.send(request);

  const moderation = createModeration({
    send: sendJoined,
    me: () => myHandle(),
    operator: (room) => {
      const target = room ?? onScreen();
      return Boolean(target) && tokenOperator(target.token(), target.name);
    },
    showAlert,
  });
  setInterval(() => moderation.sweep(), 30_000);

  const menu = setUpMenu();
  const finder = createFinder({
    jumped: () => menu.done(),
    channel: () => onScreen()?.name ?? $("channel").value,
    token: () => onScreen()?.token() ?? siteToken(),
    siteToken,
    open: (name) => rooms.open(name),
    send: sendJoined,
    renderFrame: (data) => onScreen().log.renderFrame(data),
    decrypted: () => secrets.decrypted(onScreen()),
    showAlert,
    onLive: () => {
      onScreen()?.log.hideJump();
      composer.focus();
    },
  });

  const composer = createComposer({
    send,
    prepare: (request) => (onScreen() ? secrets.prepare(onScreen(), request) : Promise.resolve(request)),
    sent: () => onScreen()?.log.toBottom(),
    handles: () => (onScreen()?.users.names() ?? []).filter((handle) => handle !== myHandle()),
    channel: () => onScreen()?.name ?? null,
  });

  const files = createFiles({
    send: sendJoined, showAlert, clearAlert,
    // A file is not encrypted: none is shared in a channel whose passphrase is on.
    refusal: () => (secrets.locked(onScreen()) ? FILES_NOT_ENCRYPTED : null),
  });
  const secrets = createSecrets({
    active: () => onScreen(), showAlert, clearAlert,
    hold: (room, on) => { if (room === onScreen()) composer.hold(on); },
  });
  // What the message box and an edit send goes through the encryption first (a passphrase, a private message).
  const sendPrepared = (request) => {
    const room = onScreen();
    if (!room) return false;
    secrets.prepare(room, request).then((ready) => ready && rooms.send(ready, true));
    return true;
  };
  const annotations = createAnnotations({
    // Edits and a thread's replies are text of the channel: encrypted as the message box's are.
    send: (request) => (request.type === "edit" || request.type === "chat" ? sendPrepared(request) : sendJoined(request)),
    me: () => myHandle(),
    channel: () => onScreen()?.name ?? null,
    lists: () => [onScreen()?.log.list, $("jumped")].filter(Boolean),
    jumpAround: (cursor) => finder.jumpAround(cursor),
    replyTo: (cursor, label) => composer.replyTo(cursor, label),
    showFile: (item, file) => files.show(item, file),
    revealText: (item, envelope) => secrets.revealEdit(onScreen(), item, envelope),
    showAlert,
  });
  annotations.renderWith((data) => onScreen().log.renderFrame(data));

  rooms = createRooms({ moderation, finder, composer, annotations, files, secrets }, page);
  return rooms;
}
