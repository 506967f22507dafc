"""`workstation batches list|undo` on a real sample file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workstation.cli import main


def test_list_and_undo(tmp_path: Path, samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    sample = samples / "camt" / "genkgo_camt053_001_02_multi_statement.xml"
    assert main(["--db", url, "import", str(sample), "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)["files"][0]
    assert imported["new"] > 0
    assert main(["--db", url, "batches", "list", "--json"]) == 0
    (batch,) = json.loads(capsys.readouterr().out)["batches"]
    assert batch["batch_id"] == imported["batch_id"] and batch["status"] == "committed"
    assert main(["--db", url, "batches", "undo", str(batch["batch_id"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == imported["new"]
    assert main(["--db", url, "batches", "undo", str(batch["batch_id"])]) == 1
    assert "already undone" in capsys.readouterr().err
    assert main(["--db", url, "batches", "undo", "999"]) == 1
    assert "no import batch 999" in capsys.readouterr().err
