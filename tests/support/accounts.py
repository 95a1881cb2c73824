"""Accounts in tests: signing up and in over HTTP, and a socket with a browser's cookies."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from .clients import Client
from .servers import Server

PASSWORD = "correct horse battery"


async def post(browser: aiohttp.ClientSession, server: Server, path: str, body: Any,
               **headers: str) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with browser.post(server.url + path, json=body, headers=headers) as response:
        return response.status, await response.json(), response


async def sign_up(browser: aiohttp.ClientSession, server: Server, handle: str, invite: str | None = None,
                  password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
    status, body, _ = await post(browser, server, "/api/accounts",
                                 {"handle": handle, "password": password, "invite": invite})
    return status, body


async def sign_in(browser: aiohttp.ClientSession, server: Server, handle: str,
                  password: str = PASSWORD) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    return await post(browser, server, "/api/session", {"handle": handle, "password": password})


async def socket(browser: aiohttp.ClientSession, server: Server, handle: str = "Ignored",
                 channel: str = "general") -> Client:
    return Client(await browser.ws_connect(server.ws_url(channel=channel, handle=handle)))


def code_of(link: str) -> str:
    match = re.search(r"\?invite=([A-Za-z0-9_-]+)$", link.strip())
    assert match, link
    return match.group(1)
