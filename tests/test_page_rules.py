"""The page asks the server for its rules and matches only sentences the server sends."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from wsserver import protocol
from wsserver.config import CHANNEL_HINT, CHANNEL_RE, HANDLE_HINT, HANDLE_RE
from wsserver.lines.moderation_log import OWN_LINE_SECONDS

from .support import REPO, Server

WEB = REPO / "web"
EXPORTED = re.compile(r'^export const ([A-Z_]+) = "([^"\\]*)";$', re.M)


def server_sentences() -> dict[str, str]:
    """Every sentence the server can send a client, by its name in the server's table."""
    return {code.name: code.sentence for code in protocol.Code}


def test_every_sentence_the_page_matches_on_is_the_servers() -> None:
    """web/sentences.js holds server sentences only, each under the server's own name and text."""
    page = dict(EXPORTED.findall((WEB / "sentences.js").read_text()))
    assert page, "web/sentences.js exports no sentence"
    server = server_sentences()
    for name, text in page.items():
        assert server.get(name) == text, f"web/sentences.js {name} = {text!r} is not the server's sentence"


def test_no_other_page_module_copies_a_server_sentence() -> None:
    """The other page modules take server sentences from web/sentences.js instead of writing them again."""
    sentences = [text.split("{")[0] for text in server_sentences().values()]
    for module in sorted(WEB.glob("*.js")):
        if module.name == "sentences.js":
            continue
        literals = re.findall(r'"([^"\\]*)"|`([^`]*)`', module.read_text())
        for literal in (a or b for a, b in literals):
            copied = [text for text in sentences if len(text) > 12 and literal.startswith(text)]
            assert not copied, f"web/{module.name} writes the server sentence {copied[0]!r}: import it"


def test_no_page_module_copies_the_servers_rules() -> None:
    """The handle and channel patterns, their hints and the own-line window reach the page from /api/settings only."""
    for module in sorted([*WEB.glob("*.js"), WEB / "index.html"]):
        text = module.read_text()
        for copy in ("{3,16}", "{0,31}", "15 * 60", "900", HANDLE_HINT, CHANNEL_HINT, "3 to 16", "1 to 32",
                     "A-Za-z0-9_]", "a-z0-9"):  # the handle's and the channel's characters
            assert copy not in text, f"web/{module.name} holds a copy of a server rule ({copy})"


def test_no_page_module_exports_mutable_state() -> None:
    """No module exports an object, array, Map or `let` that others change: shared state lives behind functions."""
    exported = re.compile(r"^export (?:let|var) |^export const \w+ = (?:\{|\[|new )", re.M)
    for module in sorted(WEB.glob("*.js")):
        found = exported.findall(module.read_text())
        assert not found, f"web/{module.name} exports mutable state: {found}"


async def test_settings_carry_the_rules_the_server_applies(server: Server, session: aiohttp.ClientSession) -> None:
    """GET /api/settings gives the handle and channel patterns, the reserved handles and the own-line window."""
    async with session.get(server.url + "/api/settings") as response:
        body: dict[str, Any] = await response.json()
    page = {"page_version": body.pop("page_version"), "page_files": body.pop("page_files")}
    assert re.fullmatch(r"[0-9a-f]{16}", page["page_version"]) and "index.html" in page["page_files"]
    assert body == {
        "max_message_chars": 2000, "rate_limit": 0.0, "rate_burst": 10, "history": 100, "allow_new_channels": False,
        "handle_pattern": HANDLE_RE.pattern, "reserved_handles": ["System"], "channel_pattern": CHANNEL_RE.pattern,
        "handle_hint": "3 to 16 letters, digits, underscores or dashes, not starting with a dash",
        "channel_hint": "1 to 32 of a-z, 0-9, - and _, starting with a letter or digit",
        "own_line_seconds": OWN_LINE_SECONDS, "edit_line_seconds": 24 * 3600, "reactions_most": 20,
        "max_upload_bytes": 10 * 1024 * 1024, "timezone": "UTC",
    }
