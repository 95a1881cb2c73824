"""A real IRC client: WeeChat (Debian's weechat-headless) in the same channel as a page's socket."""

from __future__ import annotations

from typing import Any

from .support import eventually, joined
from .support.irc import irc_port


async def test_weechat_and_a_page_socket_see_each_others_lines(start_server: Any, connect: Any, weechat: Any) -> None:
    """WeeChat joins #general beside a socket: each sees the other's lines, an action, and the join, in order."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    client = await weechat(await irc_port(server))
    web = await joined(await connect(server, "Webby"), "Webby")
    await web.until_line("System: weeuser has joined the chat")
    await eventually(lambda: "Channel #general: 2 nicks" in client.log("irc.ws.#general"))  # its NAMES: the page
    await web.chat("hello weechat")
    await eventually(lambda: "Webby\thello weechat" in client.log("irc.ws.#general"))
    client.command("irc.ws.#general", "hello from weechat")
    await web.until_line("weeuser: hello from weechat")
    client.command("irc.ws.#general", "/me waves")
    await web.until_line("weeuser: /me waves")
    await eventually(lambda: "weeuser waves" in client.log("irc.ws.#general"))
    shown = [line.split("\t", 1)[1] for line in client.log("irc.ws.#general").splitlines()
             if "\thello" in line]
    assert shown == ["Webby\thello weechat", "weeuser\thello from weechat"], shown
