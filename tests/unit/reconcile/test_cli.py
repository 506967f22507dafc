"""`workstation reconcile` and `workstation export matches|unmatched` through the CLI."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from workstation.cli import main
from workstation.db import Database
from workstation.services.reconcile import clerk_actions

from .helpers import charge, order, put, rid


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    with db.session() as s:
        put(
            s,
            [
                order("ORD-6000001", 1999, 1),
                order("ORD-6000002", 500, 2, ref_order=None),
                order("ORD-6000003", 12345, 3),
            ],
            "l",
        )
        put(
            s,
            [
                charge("txn_K1", 1999, 1, ref_order="ORD-6000001", ref_charge="ch_KKKK1111"),
                charge("txn_K2", 500, 2),
            ],
            "p",
        )
    db.dispose()
    return url


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_reconcile_json_dry_run_then_real(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _db(tmp_path)
    assert main(["--db", url, "reconcile", "--dry-run", "--json"]) == 0
    dry = _json(capsys)
    assert dry["dry_run"] is True and dry["auto"] == 1 and dry["suggested"] == 1
    assert main(["--db", url, "reconcile", "--json"]) == 0
    real = _json(capsys)
    assert (real["auto"], real["suggested"], real["unmatched_left"]) == (1, 1, 1)
    rules = {r["name"]: r for r in real["rules"]}
    assert rules["Reference (exact)"]["auto"] == 1
    assert rules["Amount + date window"]["suggested"] == 1
    assert set(rules["Subset sum"]) >= {"auto", "suggested", "left_after"}
    assert main(["--db", url, "reconcile"]) == 0
    text = capsys.readouterr().out
    assert "Reference (exact)" in text and "left 0 unmatched" not in text


def test_backtest_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _db(tmp_path)
    assert main(["--db", url, "reconcile", "--backtest"]) == 1
    assert "no clerk-confirmed matches" in capsys.readouterr().err
    db = Database(url)
    with db.session() as s:
        clerk_actions.manual_match(s, [rid(s, "ORD-6000002"), rid(s, "txn_K2")], actor="clerk")
        clerk_actions.manual_match(s, [rid(s, "ORD-6000001"), rid(s, "txn_K1")], actor="clerk")
        target = rid(s, "ORD-6000003")
    db.dispose()
    assert main(["--db", url, "reconcile", "--backtest", "--json"]) == 0
    bt = _json(capsys)
    assert bt["reference_pairs"] == 2 and bt["recall"] == 1.0 and bt["precision"] == 1.0
    assert bt["auto_precision"] == 1.0
    assert main(["--db", url, "reconcile", "--explain", str(target), "--json"]) == 0
    ex = _json(capsys)
    assert ex["record_id"] == target


def test_export_matches_and_unmatched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _db(tmp_path)
    assert main(["--db", url, "reconcile", "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "matches.csv"
    assert main(["--db", url, "export", "matches", "--out", str(out), "--json"]) == 0
    assert _json(capsys)["rows"] == 4
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "match_id",
        "status",
        "rule",
        "confidence",
        "level",
        "member",
        "source_kind",
        "source",
        "external_id",
        "references",
        "date",
        "amount",
        "currency",
        "payout_id",
    ]
    k1 = next(r for r in rows if r["external_id"] == "txn_K1")
    assert k1["status"] == "auto" and k1["references"] == "CHKKKK1111;ORD6000001;TXNK1"
    assert k1["level"] == "1" and k1["member"] == "line"
    assert k1["amount"] == "19.99" and k1["date"] == "2026-10-01"
    xlsx = tmp_path / "unmatched.xlsx"
    assert main(["--db", url, "export", "unmatched", "--out", str(xlsx)]) == 0
    assert "wrote 1 unmatched" in capsys.readouterr().out
    ws = load_workbook(xlsx).active
    values = list(ws.values)
    assert values[0][2:] == (
        "source_kind",
        "source",
        "external_id",
        "references",
        "date",
        "amount",
        "currency",
    )
    assert values[1][4] == "ORD-6000003" and Decimal(str(values[1][7])) == Decimal("123.45")
