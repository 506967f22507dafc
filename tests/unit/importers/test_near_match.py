"""A damaged BAI2 or MT940 file gets that format's error (line, field), not "format not recognised".

The damaged files are real files with one record or tag broken: the ING export of
tests/data/mt940 (SOURCES.md) and, where ../shared/samples is present, a BAI2 test file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import registry
from workstation.importers.base import ImportOptions
from workstation.models import ImportBatch, Record
from workstation.services.imports.file_import import import_file

OCA_ING = (
    Path(__file__).resolve().parents[2] / "data" / "mt940" / "oca_mt940_base_ing_swift_blocks.940"
)


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def damaged_mt940(tmp_path: Path, old: bytes, new: bytes) -> Path:
    data = OCA_ING.read_bytes()
    assert old in data
    path = tmp_path / "statement.940"
    path.write_bytes(data.replace(old, new))
    return path


def test_mt940_without_20_gets_the_mt940_error(tmp_path: Path, sqlite_db: Database) -> None:
    # The SWIFT header and :20: damaged: no sniffer is sure, the :25:, :60F:, :61: tags are there.
    path = damaged_mt940(tmp_path, b"{2:I940", b"{2:I9X0")
    path.write_bytes(path.read_bytes().replace(b":20:", b":2O:"))
    head = path.read_bytes()
    assert all(imp.sniff(head, path.name) == 0 for imp in registry.importers())
    assert registry.detect(head, path).name == "mt940"
    with sqlite_db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, path, actor="tester")
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(path), 5, ":25:")
    assert "MT940" in exc.value.message and "instead of :20:" in exc.value.message
    assert count(sqlite_db, Record) == 0 and count(sqlite_db, ImportBatch) == 0


def test_mt940_swift_header_alone_is_enough(tmp_path: Path) -> None:
    # Only the `{2:I940` header is left to tell the format: its text block has lost its tags.
    data = OCA_ING.read_bytes()
    path = tmp_path / "header_only.940"
    path.write_bytes(data[: data.index(b":20:")] + b"P140220000000001\n-}\n")
    with pytest.raises(UserError) as exc:
        registry.detect(path.read_bytes(), path).parse(path, path.read_bytes(), ImportOptions())
    assert "{2:I940" in exc.value.message and "no MT940/MT942 statement" in exc.value.message


def test_bai2_damaged_group_header_through_the_cli(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ministryofjustice/bai2 tests/data/citi_example.bai2, its 02 group header typed as O2.
    data = (samples / "bai2" / "moj_citi_example.bai2").read_bytes()
    assert data.startswith(b"01,") and b"\n02," in data
    path = tmp_path / "citi.bai2"
    path.write_bytes(data.replace(b"\n02,", b"\nO2,").replace(b"\n03,", b"\nO3,"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["--db", url, "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, line 2") and "Traceback" not in err
    assert "BAI2" in err and "not recognised" not in err
    db = Database(url)
    try:
        assert count(db, Record) == 0 and count(db, ImportBatch) == 0
    finally:
        db.dispose()


def test_unrelated_text_is_still_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"meeting notes\n20: not a tag\n01 , not a record\n")
    with pytest.raises(UserError) as exc:
        registry.detect(path.read_bytes(), path)
    assert "not recognised" in exc.value.message
