"""The shipped NGINX stream block (systemd/nginx-irc.conf): IRC over TLS on its port, the PROXY protocol to the door."""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
from pathlib import Path
from typing import Any

from .support import REPO, eventually, free_port, missing
from .support.irc import Irc, irc_port
from .test_deploy import require

STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")



def has_stream_module() -> bool:
    return STREAM_MODULE.exists()


def stream_for_test(door_port: int, listen_port: int, cert: Path, key: Path) -> str:
    """The shipped stream block with the test's ports and certificate."""
    block = (REPO / "systemd" / "nginx-irc.conf").read_text()
    block, upstreams = re.subn(r"server 127\.0\.0\.1:6667;", f"server 127.0.0.1:{door_port};", block)
    block, listens = re.subn(r"listen 6697 ssl;", f"listen 127.0.0.1:{listen_port} ssl;", block)
    block = block.replace("        listen [::]:6697 ssl;\n", "")
    block, certs = re.subn(r"/etc/letsencrypt/live/chat\.example\.org/fullchain\.pem", str(cert), block)
    block, keys = re.subn(r"/etc/letsencrypt/live/chat\.example\.org/privkey\.pem", str(key), block)
    assert (upstreams, listens, certs, keys) == (1, 1, 1, 1), "the shipped stream block changed shape"
    return block


async def test_irc_over_tls_through_the_shipped_stream_block(start_server: Any, tmp_path: Path) -> None:
    """nginx -t passes with the block at the top level; a TLS client registers and chats; the PROXY line is the
    door's (not a command: no 421), and the per-address cap counts the address it names."""
    binary = require("nginx", "nginx-light")
    if not has_stream_module():
        missing("this test needs NGINX's stream module (apt-get install libnginx-mod-stream)")
    openssl = require("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = await asyncio.to_thread(subprocess.run, [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    server = await start_server("--irc-port", "0", "--trusted-proxy", "127.0.0.1", "--max-connections-per-ip", "1",
                                "--rate-limit", "0")
    port = free_port()
    (tmp_path / "irc.conf").write_text(stream_for_test(await irc_port(server), port, cert, key))
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(f"""
load_module {STREAM_MODULE};
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
include {tmp_path}/irc.conf;
""")
    checked = await asyncio.to_thread(subprocess.run, [binary, "-t", "-c", str(wrapper), "-p", str(tmp_path)],
                                      capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = await asyncio.create_subprocess_exec(binary, "-c", str(wrapper), "-p", str(tmp_path))
    try:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's own certificate
        async def from_address(address: str) -> Irc:  # a client from another loopback address than NGINX's own
            for _ in range(200):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                                   local_addr=(address, 0))
                    return Irc(reader, writer)
                except ConnectionRefusedError:
                    await asyncio.sleep(0.025)
            raise AssertionError("NGINX did not listen")

        client = await from_address("127.0.0.2")
        await client.send("NICK tls-user")
        await client.send("USER t 0 * :TLS")
        await client.expect(r" 001 tls-user ")
        await client.join()
        await client.send("PRIVMSG #general :over TLS")
        await eventually(lambda: any(line.endswith("] tls-user: over TLS") for line in server.file_lines("general")))
        assert not any(" 421 " in line for line in client.lines), "the PROXY line reached the commands"
        await server.wait_for_log(re.compile(r"tls-user \(127\.0\.0\.2, IRC\)"))  # the client's, not NGINX's

        other = await from_address("127.0.0.3")  # another address: under the cap of one
        await other.send("NICK other-user")
        await other.send("USER o 0 * :O")
        await other.expect(r" 001 other-user ")
        again = await from_address("127.0.0.2")  # the first address again: over --max-connections-per-ip
        await again.expect(r"^ERROR :")
        for each in (client, other, again):
            each.close()
    finally:
        process.terminate()
        await process.wait()
