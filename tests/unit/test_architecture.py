"""The shape of the code stays as docs/ARCHITECTURE.md says: small modules, a current domain map."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_LINES = 600


def _domain_map():
    spec = importlib.util.spec_from_file_location("domain_map", REPO / "tools" / "domain_map.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["domain_map"] = module
    spec.loader.exec_module(module)
    return module


def test_domain_map_in_architecture_doc_is_current() -> None:
    assert _domain_map().main(["--check"]) == 0, "run `make architecture`"


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
        for p in (REPO / "workstation").rglob("*.py")
    }
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_every_services_package_says_what_it_owns() -> None:
    for init in (REPO / "workstation" / "services").glob("*/__init__.py"):
        text = init.read_text(encoding="utf-8")
        assert text.startswith('"""'), init
        assert "import" in text.split('"""')[1], f"{init}: say what the package may import"
