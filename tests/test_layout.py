"""The layout shows the design: the README's map is the tree, no import cycle, small modules, tools below the server."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .support import REPO

PACKAGE = REPO / "wsserver"
MODULE_LINES = 400
# What an operator command may import of the package: the store's face, the settings, the line
# format, the moderation actions and the error tree. Never the server (aiohttp, the hub, channels).
OPS_MAY_IMPORT = {"wsserver.store", "wsserver.store.base", "wsserver.store.merged", "wsserver.config", "wsserver.lines",
                  "wsserver.lines.logline", "wsserver.lines.moderation_log", "wsserver.errors", "wsserver.background",
                  "wsserver.ops",
                  "wsserver.ops.channel_commands", "wsserver.ops.moderation_commands", "wsserver.ops.exporting",
                  # the log's annotations, read through the store's face like its lines
                  "wsserver.lines.query", "wsserver.annotations.found", "wsserver.lines.annotation",
                  # shared files, withdrawn with their line (no aiohttp in either)
                  "wsserver.uploads.storage", "wsserver.uploads.withdraw", "wsserver.ops.files",
                  # accounts: secrets made and hashed as the server keeps them
                  "wsserver.credentials", "wsserver.ops.accounts_commands"}


def module_of(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Return the package modules ``path`` imports (relative imports resolved, TYPE_CHECKING ones included)."""
    package = module_of(path).split(".") if path.name == "__init__.py" else module_of(path).split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    modules = {module_of(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_cycle_in_the_package() -> None:
    """Implementations import their base, never the other way round: the package's imports form no cycle."""
    graph = package_graph()
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name):], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            # A package's __init__ importing its own submodules is how a package is made, not a cycle.
            if not target.startswith(name + "."):
                visit(target, [*trail, name])
        done.add(name)

    for module in sorted(graph):
        visit(module, [])


# The layers of the package, from the bottom up: a module imports only from its own layer or below
# (``TYPE_CHECKING`` imports included). The root's modules are the base, but for the command line on top.
LAYERS = [
    ("base", {"errors", "protocol", "background", "casts", "config", "metrics", "workers", "credentials"}),
    ("lines", {"lines"}),  # the log's grammar: lines, annotation lines, queries, moderation actions
    ("store", {"store"}),  # where the logs and handles live: files or Redis
    ("records", {"annotations", "uploads"}),  # what is read back from the store: annotations, shared files
    ("channels", {"channels"}),  # one channel: its log, fan-out, presence
    ("hub", {"hub"}),  # every channel, seats, members, moderation
    ("doors", {"app", "ops", "irc"}),  # the web server and its sockets; the IRC door; the operator commands
    ("entry", {"cli", "__main__"}),
]
ROOT_MODULES_MOST = 12


def layer_of(module: str) -> int:
    """Return the floor of ``module`` (a name under ``wsserver``)."""
    first = module.split(".")[1] if "." in module else ""
    for floor, (_, members) in enumerate(LAYERS):
        if first in members:
            return floor
    return 0  # the package itself (its __init__)


def test_every_module_is_in_a_layer() -> None:
    """Each top-level module and package of wsserver/ belongs to exactly one layer."""
    top = {path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    top |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    placed = [name for _, members in LAYERS for name in members]
    assert sorted(placed) == sorted(top)
    assert len(list(PACKAGE.glob("*.py"))) <= ROOT_MODULES_MOST


def test_imports_go_down_the_layers_only() -> None:
    """No module imports from a layer above its own (``TYPE_CHECKING`` imports included)."""
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in sorted(package_graph().items()) for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert upward == []


@pytest.mark.parametrize("folder", ["wsserver", "web", "tests", "bench"])
def test_no_module_is_over_400_lines(folder: str) -> None:
    """A module over 400 lines is probably two concepts."""
    pattern = "*.js" if folder == "web" else "*.py"
    long = [f"{path.relative_to(REPO)}: {lines}" for path in sorted((REPO / folder).rglob(pattern))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES]
    assert long == []


def test_operator_commands_import_only_the_stores_face() -> None:
    """ops/ imports of the package only the store's face, the settings, the line format and the actions."""
    graph = package_graph()
    for module in sorted(name for name in graph if name.startswith("wsserver.ops")):
        assert graph[module] <= OPS_MAY_IMPORT, f"{module} imports {sorted(graph[module] - OPS_MAY_IMPORT)}"


def test_an_operator_command_loads_neither_aiohttp_nor_the_server(tmp_path: Path) -> None:
    """Running `wsserver users` imports no aiohttp and none of the server's modules."""
    probe = (
        "import sys\nfrom wsserver.cli import main\nstatus = main(['users', '--data-dir', sys.argv[1]])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp' or m in "
        "('wsserver.app', 'wsserver.hub', 'wsserver.channels', 'wsserver.app.chat', 'wsserver.channels.fanout', "
        "'wsserver.hub.enforcement', 'wsserver.hub.membership'))\nprint(status, loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, timeout=30,
                            cwd=REPO)
    assert result.stdout == "0 []\n", result.stderr


def test_only_the_store_names_redis_outside_the_settings_and_metrics() -> None:
    """Outside store/, no module of the package has Redis-specific code (the --store option and the gauges aside)."""
    allowed = {"config.py", "casts.py", "metrics.py"}  # the settings (the --store URL) and the gauges
    named = [path.name for path in sorted(PACKAGE.glob("*.py"))
             if path.name not in allowed and re.search("redis", path.read_text(encoding="utf-8"), re.I)]
    assert named == []


def readme_map() -> set[str]:
    """Return the files the README's map of the tree names, as paths from the repository's root."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Development"):].split("```", 2)[1]
    folders: list[tuple[int, str]] = []  # (indent, folder) from the outside in
    named: set[str] = set()
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        words = line.split()
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if words[0].endswith("/"):
            folders.append((indent, words[0]))
            continue
        where = "".join(folder for _, folder in folders)
        for word in words:
            if re.fullmatch(r"[\w.-]+\.(py|js|html|css|svg|png|webmanifest)", word):
                named.add(where + word)
            elif not re.fullmatch(r"[\w.-]+\.\w+", word):
                break  # the description starts
    return named


def test_the_readme_map_names_every_module_and_no_other() -> None:
    """Every module of wsserver/ (``__main__.py`` included) and every file of web/ is in the README's map."""
    tree = {str(path.relative_to(REPO)) for path in PACKAGE.rglob("*.py")}
    tree |= {str(path.relative_to(REPO)) for path in (REPO / "web").iterdir() if path.is_file()}
    named = readme_map()
    assert sorted(tree - named) == [], "modules missing from the README's map"
    assert sorted(named - tree) == [], "the README's map names files that do not exist"


def test_every_exception_is_in_the_one_tree() -> None:
    """Every exception class the package defines derives from WsserverError, and StoreUnavailable is a StoreError."""
    import importlib
    import inspect

    from wsserver.errors import StoreError, StoreUnavailable, WsserverError

    outside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":
            continue  # importing it runs the command line
        module = importlib.import_module(module_of(path))
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
                    and not issubclass(value, WsserverError)):
                outside.append(f"{module.__name__}.{name}")
    assert outside == []
    assert issubclass(StoreUnavailable, StoreError)


def _loaded_by(modules: str, watched: tuple[str, ...]) -> list[str]:
    """Return which of ``watched`` a clean interpreter has loaded after importing ``modules``."""
    import ast
    import subprocess
    import sys

    code = f"import sys, {modules}; print(sorted(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return list(ast.literal_eval(result.stdout))


def test_the_metrics_registry_loads_neither_the_protocol_nor_aiohttp() -> None:
    """A store imports metrics.py: the registry loads nothing of the package, and a store no door or web server.

    (The protocol's table imports nothing itself: a store may name a sentence, as moderation's rules do.)
    """
    assert _loaded_by("wsserver.metrics", ("aiohttp", "wsserver.protocol", "wsserver.errors")) == []
    assert _loaded_by("wsserver.store.files.store, wsserver.store.redis.store",
                      ("aiohttp", "wsserver.app.security", "wsserver.app", "wsserver.hub")) == []


def test_the_hub_and_its_channels_run_without_aiohttp() -> None:
    """The hub, its channels, seats, fan-out and moderation load without the web server (the doors bring it)."""
    assert _loaded_by("wsserver.hub.hub, wsserver.channels.channel, wsserver.hub.membership, wsserver.channels.fanout, "
                      "wsserver.hub.enforcement",
                      ("aiohttp",)) == []


def test_every_sentence_is_written_once_in_the_protocols_table() -> None:
    """No module but protocol.py writes a sentence a client is told: each is found once in the package, there."""
    from wsserver import protocol

    table = (PACKAGE / "protocol.py").read_text(encoding="utf-8")
    sentences = [code.sentence for code in protocol.Code]
    # The problems that follow "Invalid ... request:", and what the server says in logs and answers
    sentences += [value for name, value in vars(protocol).items()
                  if name.isupper() and isinstance(value, str) and f'"{value}"' in table]
    sources = {str(path.relative_to(REPO)): path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))}
    for sentence in sentences:
        # A string literal (f-strings too) that starts with the sentence, up to its first placeholder; or, for a
        # sentence that starts with one, its longest part between placeholders
        pieces = re.split(r"\{\w+\}", sentence)
        literal = re.compile(r"""(?<=["'])""" + re.escape(pieces[0]) if pieces[0] else
                             re.escape(max(pieces, key=len)))
        found = {path: len(hits) for path, text in sources.items() if (hits := literal.findall(text))}
        assert found == {"wsserver/protocol.py": 1}, f"{sentence!r} is written in {found}"

