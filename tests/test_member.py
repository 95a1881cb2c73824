"""The member API below every door: a member joins, says, reacts, edits, reads, deletes and leaves, no web server loaded.

The script below runs in a clean interpreter on a real file store in a temporary data dir: a hub,
three members whose outboxes write to a stand-in for a socket (``send_frame``, ``close``,
``closed``), and the log file read at the end. It fails if anything loaded aiohttp.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .support import REPO

SCRIPT = r'''
import asyncio, json, sys
from pathlib import Path

from wsserver.channels.fanout import Outbox
from wsserver.hub.hub import Hub
from wsserver.hub.member import Limits, Member
from wsserver.metrics import Metrics
from wsserver.protocol import Code, Refused
from wsserver.store.files.store import FileStore


class Socket:
    """What an outbox writes to: frames kept as JSON, waited on by condition."""

    def __init__(self):
        self.closed = False
        self.frames = []
        self.changed = asyncio.Condition()

    async def send_frame(self, payload, opcode):
        async with self.changed:
            self.frames.append(json.loads(bytes(payload)))
            self.changed.notify_all()

    async def close(self, code, message):
        self.closed = True

    async def until(self, test, what):
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: any(test(f) for f in self.frames)), 10)
            except TimeoutError:
                raise AssertionError(f"never got {what}: {self.frames[-3:]}") from None
        return next(f for f in self.frames if test(f))


def line_frame(text):
    return lambda f: f.get("success") and text in f.get("data", {}).get("message", "") and "event" not in f


def event(name, **fields):
    return lambda f: f.get("event") == name and all(f["data"].get(k) == v for k, v in fields.items())


async def main(data):
    metrics = Metrics()
    hub = Hub(FileStore(data, metrics), ("general",), "UTC", metrics=metrics)
    await hub.start()
    channel = hub.channels.channel("general")
    limits = Limits(max_chars=100)
    sockets, members = {}, {}
    for handle in ("Alice", "Bob", "Carol"):
        sockets[handle] = Socket()
        members[handle] = await Member.join(hub, channel, handle, Outbox(sockets[handle], 100, f"{handle}@general"),
                                            limits, history=10, operator=handle == "Carol")
    alice, bob, carol = members["Alice"], members["Bob"], members["Carol"]
    await sockets["Alice"].until(line_frame("System: Carol has joined the chat"), "Carol's join line")

    assert await alice.say("hello") is None
    said = await sockets["Bob"].until(line_frame("Alice: hello"), "Alice's line")
    cursor = said["data"]["cursors"][said["data"]["message"].split("\n").index(
        next(l for l in said["data"]["message"].split("\n") if l.endswith("Alice: hello")))]

    assert await bob.react(cursor, "\N{THUMBS UP SIGN}") is None
    await sockets["Alice"].until(event("reactions", cursor=cursor, reactions={"\N{THUMBS UP SIGN}": ["Bob"]}),
                                 "Bob's reaction")
    assert await bob.react(cursor, "not an emoji") == Refused(Code.BAD_EMOJI, Code.BAD_EMOJI.sentence)

    assert await alice.edit(cursor, "hello again") is None
    await sockets["Bob"].until(event("edited", cursor=cursor, message="hello again"), "Alice's edit")
    assert (await bob.edit(cursor, "mine now")).code is Code.NOT_YOURS_TO_EDIT

    assert await alice.read(cursor) is None
    assert (await alice.read("no-such-cursor")).code is Code.BAD_AROUND
    page = await alice.history(limit=10)
    assert isinstance(page, str) and "Alice: hello" in page, page

    assert (await alice.say("")).sentence == "Message is empty"
    assert (await alice.say("x" * 101)).sentence == "Message is too long (limit 100 characters)"
    assert (await alice.say("a\ud800b")).code is Code.NOT_UNICODE
    assert (await alice.private("Nobody", "psst")).code is Code.USER_NOT_FOUND
    assert await alice.private("Bob", "psst") is None
    await sockets["Bob"].until(event("private"), "Alice's private line")

    assert (await bob.delete(cursor)).code is Code.NOT_YOURS
    assert (await bob.moderate("mute", "Alice")).code is Code.NOT_OPERATOR
    assert await carol.moderate("mute", "Bob", "calm down", "1h") is None
    assert (await bob.say("still here")).code is Code.MUTED
    assert await alice.delete(cursor) is None
    await sockets["Carol"].until(event("deleted", cursor=cursor), "the deletion")
    assert (await alice.delete(cursor)).code is Code.ALREADY_DELETED

    await bob.leave()
    await sockets["Alice"].until(line_frame("System: Bob has left the chat"), "Bob's leave line")
    await alice.leave()
    await carol.leave()
    await hub.stop()
    log = (data / "channel_general.log").read_text()
    assert "] Alice: hello\n" in log and "] System: Bob was muted by Carol for 1h (calm down)\n" in log, log
    assert "] System: Bob has left the chat\n" in log and "still here" not in log, log
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp")
    print("loaded:", loaded)


asyncio.run(main(Path(sys.argv[1])))
'''


def test_a_member_joins_acts_and_leaves_with_no_web_server_loaded(tmp_path: Path) -> None:
    """Join, say, react, edit, read, history, private, delete, moderate and leave, each checked; aiohttp never loaded."""
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "loaded: []\n", result.stderr[-3000:]
