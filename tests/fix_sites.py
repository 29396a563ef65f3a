"""Site files for tests: the repository's example site (path and loaded), free ports, and copies of the
example whose cameras point at a local simulator."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from core.config import load_site

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = REPO / "examples" / "site.yaml"
# Tests read pages in English (the message ids); the Chinese pages have their own tests (test_i18n).
_EXAMPLE = load_site(EXAMPLE_SITE)
SITE = _EXAMPLE.model_copy(update={"province": _EXAMPLE.province.model_copy(update={"locale": "en"})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_with_port(port: int, *, source: Path = EXAMPLE_SITE, **top_level: object) -> dict:
    """The example site with every camera served on `port` (and any top-level keys replaced)."""
    site = yaml.safe_load(source.read_text())
    site["province"]["locale"] = "en"  # as SITE
    for hall in site["halls"]:
        for camera in hall["cameras"]:
            camera["url"] = camera["url"].replace(":8554/", f":{port}/")
    site.update(top_level)
    return site


def write_site(path: Path, site: dict) -> Path:
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path
