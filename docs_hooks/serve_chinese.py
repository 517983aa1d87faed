"""A hook of mkdocs.yml: `mkdocs serve` (`make docs`) serves the Chinese edition under /zh/ too.

Each edition is a config of its own (mkdocs.yml, and mkdocs.zh.yml that INHERITs it), so
`mkdocs build` builds one and `make docs-build` runs both. A server serves one config, though;
so under `mkdocs serve` only, after every build of the English site this builds mkdocs.zh.yml
into the served folder's `zh/`, where the language switcher's links expect it. A change to a
Chinese page rebuilds and reloads like an English one (docs/zh/ is inside the watched docs/), and
so does a change to mkdocs.zh.yml. Zensical ignores hooks: it builds each config by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig

CHINESE_CONFIG = Path(__file__).resolve().parent.parent / "mkdocs.zh.yml"
_serving = False


def on_startup(command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"


def on_serve(server: Any, config: MkDocsConfig, builder: Any) -> Any:
    server.watch(str(CHINESE_CONFIG))
    return server


def on_post_build(config: MkDocsConfig) -> None:
    if not _serving:
        return
    chinese = load_config(str(CHINESE_CONFIG), site_dir=str(Path(config.site_dir) / "zh"))
    chinese.plugins.on_startup(command="build", dirty=False)
    try:
        build(chinese)
    finally:
        chinese.plugins.on_shutdown()
