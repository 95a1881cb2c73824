"""The files in systemd/ for real: NGINX in front of a server, systemd-analyze, logrotate."""

from __future__ import annotations

import asyncio
import grp
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .support import REPO, Server, eventually, free_port, joined, missing

SYSTEMD = REPO / "systemd"


def require(tool: str, package: str) -> str:
    """Return the path of ``tool``; skip (locally) or fail (with CI set) when it is missing."""
    path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None)
    if path:
        return path
    missing(f"this test needs {tool} (apt-get install {package})")
    raise AssertionError("unreachable")


def site_for_test(upstream_port: int, listen_port: int, read_timeout: str, folder: Path,
                  files_dir: Path | None = None) -> str:
    """The shipped site file with the test's ports, a short read timeout, its access log in ``folder``, its files dir."""
    site = (SYSTEMD / "nginx.conf").read_text()
    site, roots = re.subn(r"/var/lib/wsserver/files", str(files_dir or folder / "files"), site)
    assert roots == 4, "the shipped site file changed shape"
    site, logs = re.subn(r"/var/log/nginx/wsserver\.access\.log", str(folder / "access.log"), site)
    site, listens = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", site)
    site = site.replace("    listen [::]:80;\n", "")
    site, upstreams = re.subn(r"server 127\.0\.0\.1:1337;", f"server 127.0.0.1:{upstream_port};", site)
    site, timeouts = re.subn(r"proxy_read_timeout 120s;", f"proxy_read_timeout {read_timeout};", site)
    assert (listens, upstreams, timeouts, logs) == (1, 1, 1, 1), "the shipped site file changed shape"
    return site


@pytest.fixture
async def nginx(tmp_path: Path) -> AsyncIterator[Any]:
    """Start NGINX with the shipped site included in a minimal http { } wrapper."""
    binary = require("nginx", "nginx-light")
    processes: list[asyncio.subprocess.Process] = []

    async def start(upstream_port: int, read_timeout: str = "120s", files_dir: Path | None = None,
                    user: str | None = None, tls: tuple[Path, Path] | None = None) -> str:
        port = free_port()
        site = site_for_test(upstream_port, port, read_timeout, tmp_path, files_dir)
        if tls is not None:  # over https, with a certificate of the test's (as certbot adds its lines)
            site = site.replace(f"listen 127.0.0.1:{port};", f"listen 127.0.0.1:{port} ssl;\n"
                                f"    ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]};")
        (tmp_path / "site.conf").write_text(site)
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp_path / folder).mkdir(exist_ok=True)
        wrapper = tmp_path / "nginx.conf"
        # Its workers read the test's files dir under /tmp (or run as the user given, as www-data would).
        user = f"user {user};" if user else "user root;" if os.geteuid() == 0 else ""
        wrapper.write_text(f"""
daemon off;
{user}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/site.conf;
}}
""")
        checked = await asyncio.to_thread(
            subprocess.run, [binary, "-t", "-c", str(wrapper), "-p", str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        process = await asyncio.create_subprocess_exec(binary, "-c", str(wrapper), "-p", str(tmp_path))
        processes.append(process)
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.025)
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        await process.wait()


async def test_nginx_site_passes_nginx_t_and_proxies_chat(start_server: Any, nginx: Any, session: Any) -> None:
    """Through the shipped site: the page, the API and chat between two sockets."""
    server = await start_server("--rate-limit", "0")
    front = await nginx(int(server.url.rsplit(":", 1)[1]))
    async with session.get(front + "/") as response:
        assert response.status == 200 and response.content_type == "text/html"
    async with session.get(front + "/api/channels") as response:
        assert await response.json() == [{"name": "general", "users": 0}, {"name": "tech", "users": 0}]
    async with session.get(front + "/metrics") as response:
        assert response.status == 200  # the test connects from 127.0.0.1, which the site allows
    through = Server(server.data_dir, [])
    through.url = front
    from .support import Client

    alice = Client(await session.ws_connect(through.ws_url(channel="general", handle="Alice")))
    bob = Client(await session.ws_connect(through.ws_url(channel="general", handle="Bob")))
    await joined(alice, "Alice")
    await joined(bob, "Bob")
    await alice.chat("through nginx")
    await bob.until_line("Alice: through nginx")


async def test_access_log_lines_carry_no_token(start_server: Any, nginx: Any, session: Any, tmp_path: Path) -> None:
    """The site logs /ws and / by path only: a token in the query string never reaches the access log."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    server = await start_server("--jwt-secret", secret)
    front = await nginx(int(server.url.rsplit(":", 1)[1]))
    token = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    async with session.get(front + f"/?channel=general&token={token}", headers={"Referer": f"{front}/?token={token}"}) as page:
        assert page.status == 200
    from .support import Client

    alice = Client(await session.ws_connect(front.replace("http", "ws") + f"/ws?channel=general&token={token}"))
    await joined(alice, "Alice")
    await alice.ws.close()
    await server.wait_for_log("Alice@general left")
    access = tmp_path / "access.log"
    await eventually(lambda: '"GET /ws HTTP/1.1" 101' in access.read_text())  # written once the socket ends
    log = access.read_text()
    assert '"GET / HTTP/1.1" 200' in log
    assert token not in log and "token=" not in log


async def test_idle_socket_outlives_the_proxy_read_timeout(start_server: Any, nginx: Any, session: Any) -> None:
    """The heartbeat keeps an idle socket open through NGINX past its read timeout."""
    server = await start_server("--heartbeat", "0.5")
    front = await nginx(int(server.url.rsplit(":", 1)[1]), read_timeout="2s")
    from .support import Client

    url = front.replace("http", "ws", 1) + "/ws?channel=general&handle=Idle"
    idle = Client(await session.ws_connect(url))
    await joined(idle, "Idle")
    await asyncio.sleep(3.5)  # idle on purpose, longer than NGINX's 2 s read timeout
    assert not idle.ws.closed
    await idle.chat("still here")
    await idle.until_line("Idle: still here")


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd-analyze verify accepts the unit (with ExecStart pointing at this install)."""
    analyze = require("systemd-analyze", "systemd")
    script = shutil.which("wsserver") or str(Path(os.sys.executable).with_name("wsserver"))
    unit = (SYSTEMD / "wsserver.service").read_text().replace("/opt/wsserver/bin/wsserver", script)
    (tmp_path / "wsserver.service").write_text(unit)
    result = subprocess.run([analyze, "verify", str(tmp_path / "wsserver.service")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "wsserver.service" not in result.stderr, result.stderr
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                    "ReadWritePaths=/var/lib/wsserver", "StateDirectory=wsserver", "Restart=on-failure",
                    "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=-/etc/wsserver.env", "LimitNOFILE=65536"):
        assert setting in unit


async def test_logrotate_rotates_while_lines_flow(server: Server, connect: Any, tmp_path: Path) -> None:
    """A real logrotate run with the shipped rules: renamed, recreated, reloaded; lines keep flowing."""
    binary = require("logrotate", "logrotate")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.chat("before rotation")
    await bob.until_line("Alice: before rotation")
    assert server.process is not None
    rules = (SYSTEMD / "logrotate.conf").read_text()
    rules = rules.replace("/var/lib/wsserver", str(server.data_dir))
    rules = rules.replace("    su wsserver wsserver\n", "").replace("create 0640 wsserver wsserver", "create 0640")
    rules = rules.replace("systemctl reload wsserver.service", f"kill -HUP {server.process.pid}")
    (tmp_path / "rules").write_text(rules)
    result = await asyncio.to_thread(
        subprocess.run, [binary, "--force", "--state", str(tmp_path / "state"), str(tmp_path / "rules")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    await server.wait_for_log("reopening the log files")
    rotated = sorted(p.name for p in server.data_dir.glob("channel_general.log-*"))
    assert len(rotated) == 1
    assert "Alice: before rotation" in (server.data_dir / rotated[0]).read_text()
    await alice.chat("after rotation")
    await bob.until_line("Alice: after rotation")
    assert server.file_lines("general")[-1].endswith("Alice: after rotation")
    assert len([line for line in bob.lines if "Alice: " in line]) == 2


async def test_nginx_serves_shared_files_with_the_same_headers(start_server: Any, nginx: Any, session: Any,
                                                               connect: Any) -> None:
    """Through the shipped site: an image inline, HTML named photo.jpg as a download, a deleted one 410."""
    from .test_uploads import jpeg_with_gps_and_orientation, shared

    server = await start_server("--rate-limit", "0")
    front = await nginx(int(server.url.rsplit(":", 1)[1]), files_dir=server.data_dir / "files")
    alice = await joined(await connect(server, "Alice"), "Alice")
    through = Server(server.data_dir, [])
    through.url = front
    photo = await shared(through, alice, "my photo.jpg", jpeg_with_gps_and_orientation())  # the PUT through NGINX
    trap = await shared(server, alice, "photo.jpg", b"<!DOCTYPE html><script>alert(1)</script>")
    gone = await shared(server, alice, "gone.txt", b"deleted soon")
    frame = await alice.until_line_frame(gone["url"])
    await alice.send({"type": "delete", "cursor": frame["cursors"][-1]})
    await alice.event("deleted")
    async with session.get(front + gone["url"]) as response:
        assert response.status == 410, "a deleted file: not on NGINX's disk, and wsserver says it is gone"
    await server.stop()  # from here on only NGINX answers: what follows is served from the disk
    security = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
                "Cache-Control": "public, max-age=31536000, immutable", "Cross-Origin-Resource-Policy": "same-origin"}
    for url, kind, disposition in ((photo["url"], "image/jpeg", "inline; filename*=UTF-8''my%20photo.jpg"),
                                   (photo["thumbnail"], "image/webp", None),
                                   (trap["url"], "application/octet-stream", "attachment; filename*=UTF-8''photo.jpg")):
        async with session.get(front + url) as response:
            assert response.status == 200 and response.headers["Content-Type"] == kind, (url, dict(response.headers))
            assert {k: response.headers[k] for k in security} == security
            assert response.headers.get("Content-Disposition") == disposition


def _unit_setting(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", (SYSTEMD / "wsserver.service").read_text(), re.MULTILINE)
    assert match, f"the unit has no {name}"
    return match.group(1)


async def test_nginx_reads_shared_files_under_the_units_modes(start_server: Any, nginx: Any, session: Any,
                                                              connect: Any) -> None:
    """Under the unit's StateDirectoryMode and UMask an NGINX worker in the service's group serves a file from disk."""
    from .test_uploads import shared

    if os.geteuid() != 0:
        missing("this test runs NGINX's workers as another user (run it as root, as CI does)")
    mode, umask = int(_unit_setting("StateDirectoryMode"), 8), int(_unit_setting("UMask"), 8)
    state = Path(tempfile.mkdtemp(prefix="wsserver-state-"))  # /tmp/pytest-of-root is 0700: nobody could pass it
    try:
        os.chmod(state, mode)  # as systemd makes /var/lib/wsserver: owned by the service (root here), group too
        server = await start_server("--rate-limit", "0", data_dir=state, umask=umask)
        alice = await joined(await connect(server, "Alice"), "Alice")
        note = await shared(server, alice, "notes.txt", b"kept on disk")
        path = state / "files" / "attachment" / note["url"].split("/")[2] / "notes.txt"
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask), "the file is written under the unit's UMask"
        port = int(server.url.rsplit(":", 1)[1])
        # The documented setup: the NGINX user is a member of the service's group (here nobody, with root's group).
        member = await nginx(port, files_dir=state / "files", user=f"nobody {grp.getgrgid(os.getgid()).gr_name}")
        async with session.get(member + note["url"]) as response:
            assert (response.status, await response.read()) == (200, b"kept on disk")
        await server.stop()
        async with session.get(member + note["url"]) as response:
            assert (response.status, await response.read()) == (200, b"kept on disk"), "served from the disk"
        outsider = await nginx(port, files_dir=state / "files", user="nobody nogroup")
        async with session.get(outsider + note["url"]) as response:
            # Outside the group the modes keep the file from it: NGINX falls back to wsserver, which is stopped.
            assert response.status == 502, "a worker outside the service's group cannot read the files dir"
    finally:
        shutil.rmtree(state, ignore_errors=True)


async def test_the_session_cookie_is_secure_behind_nginx_over_https(start_server: Any, nginx: Any,
                                                                    tmp_path: Path) -> None:
    """Through the shipped site over https (X-Forwarded-Proto from a trusted proxy) the cookie is Secure."""
    openssl = require("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = await asyncio.to_thread(subprocess.run, [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    server = await start_server("--accounts", "--sign-up", "open", "--trusted-proxy", "127.0.0.1")
    front = await nginx(int(server.url.rsplit(":", 1)[1]), tls=(cert, key))
    assert front.startswith("https://")
    body = {"handle": "Alice", "password": "correct horse battery"}
    async with aiohttp.ClientSession() as browser:
        async with browser.post(front + "/api/accounts", json=body, ssl=False) as response:
            assert response.status == 201, await response.text()
            cookie = response.headers["Set-Cookie"]
        async with browser.post(server.url + "/api/session", json=body) as response:
            plain = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in plain, "straight to the server over http, no proxy vouching for https"

