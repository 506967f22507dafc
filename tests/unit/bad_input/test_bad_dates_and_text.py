"""Dates outside the accepted window, lossy decoding, endless lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.importers.text import MAX_LINE_BYTES

from .conftest import Refused

HEADER = "order_id,date,amount,currency,customer\n"


@pytest.mark.parametrize(
    ("day", "why"),
    [("9999-12-31", "outside the accepted dates"), ("1899-01-01", "outside the accepted dates")],
)
def test_dates_outside_the_window_are_refused(
    tmp_path: Path, refused: Refused, day: str, why: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + f"A1,2026-11-02,1.00,EUR,x\nA2,{day},2.00,EUR,y\n", encoding="utf-8")
    message = refused(path, line=3, field="booked_on")
    assert why in message and day in message and "import.latest_days_ahead" in message


def test_window_follows_the_setting(tmp_path: Path, refused: Refused) -> None:
    latest = dt.date.today() + dt.timedelta(days=800)  # beyond the default 730 days ahead
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + f"A1,{latest.isoformat()},1.00,EUR,x\n", encoding="utf-8")
    refused(path, line=2, field="booked_on")


def test_stripe_value_date_outside_the_window(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "stripe.csv"
    path.write_text(
        "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net\n"
        "txn_1,2026-11-02 10:00:00,2026-11-04 00:00:00,eur,10.00,0.30,9.70\n"
        "txn_2,2026-11-02 11:00:00,9999-12-31 00:00:00,eur,10.00,0.30,9.70\n",
        encoding="utf-8",
    )
    refused(path, line=3, field="value_on")


def test_mixed_encodings_are_refused_not_dropped(tmp_path: Path, refused: Refused) -> None:
    # UTF-8 "Gödel" with one cp1252 "é" further down: used to come out as mojibake, exit 0.
    path = tmp_path / "orders.csv"
    path.write_bytes(
        HEADER.encode()
        + "A1,2026-11-02,1.00,EUR,Gödel\n".encode()
        + b"A2,2026-11-03,2.00,EUR,Caf\xe9\n"
    )
    assert "not valid UTF-8" in refused(path, line=3, field="customer")


def test_undecodable_utf16_is_refused(tmp_path: Path, refused: Refused) -> None:
    # An unpaired surrogate: used to become U+FFFD, now it is named with its line.
    path = tmp_path / "orders.csv"
    body = HEADER + "A1,2026-11-02,1.00,EUR,x\nA2,2026-11-03,2.00,EUR,"
    path.write_bytes(
        b"\xff\xfe" + body.encode("utf-16-le") + b"\x00\xd8" + "y\n".encode("utf-16-le")
    )
    assert "are not utf-16 text" in refused(path, line=3, field=None)


def test_endless_line_is_refused_before_parsing(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "orders.csv"
    with path.open("wb") as f:
        f.write(HEADER.encode() + b"A1,2026-11-02,1.00,EUR,x\n")
        f.write(b'A2,2026-11-03,2.00,EUR,"' + b"y" * (MAX_LINE_BYTES + 10) + b"\n")
    message = refused(path, line=3, field=None)
    assert f"longer than {MAX_LINE_BYTES:,} bytes" in message


def test_endless_mt940_line_is_refused(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "statement.sta"
    path.write_bytes(b":20:REF\n:25:NL81ASNB0708271685\n:86:" + b"z" * (MAX_LINE_BYTES + 1) + b"\n")
    assert "longer than" in refused(path, "--format", "mt940", line=3, field=None)


def test_analytics_survive_any_stored_date(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A date that got in before the window existed must not break the KPI sheet or a chart.
    from sqlalchemy import create_engine, text

    engine = create_engine(store)
    with engine.begin() as conn:
        conn.execute(text("UPDATE records SET booked_on = '9999-12-31' WHERE external_id = 'G-2'"))
    engine.dispose()
    assert main(["--db", store, "export", "kpis", "--out", str(tmp_path / "k.xlsx")]) == 0
    assert main(["--db", store, "chart", "match_rate", "--out", str(tmp_path / "c.png")]) == 0
    assert main(["--db", store, "chart", "chargeback_ratio", "--out", str(tmp_path / "r.png")]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_money_sums_are_exact_or_refused(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two stored amounts of 5e18 minor units wrapped to -84,467,440,737,091,680 in the KPIs.
    from sqlalchemy import create_engine, text

    engine = create_engine(store)
    with engine.begin() as conn:
        conn.execute(text("UPDATE records SET amount_minor = 5000000000000000000"))
    engine.dispose()
    assert main(["--db", store, "export", "kpis", "--out", str(tmp_path / "k.xlsx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "too large to be summed exactly" in err
    assert not (tmp_path / "k.xlsx").exists()
