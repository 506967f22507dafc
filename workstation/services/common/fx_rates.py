"""Exchange rates: import a rates CSV (date,base,quote,rate) and exact conversion of minor units.

A rate row means 1 `base` = `rate` `quote` on `on_date`. Lookups take the latest rate on or before
the date, in either direction (the inverse rate when only the other pair is known). Conversion is
exact integer arithmetic on minor units with banker's rounding; no floats touch money.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ...errors import UserError
from ...importers.base import Problem
from ...models import FxRate
from ...money import exponent, normalise_currency
from . import audit

RATE_SCALE = 10**10  # rates are stored as Numeric(24, 10)


@dataclass
class FxImportReport:
    """What an import of a rates file did."""

    path: str
    added: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)


def import_rates_csv(session: Session, path: Path, *, actor: str) -> FxImportReport:
    """Add or replace rates from a CSV with columns date,base,quote,rate (header required).

    Bad rows are reported (line and field) and skipped; a file without the columns is refused.
    """
    report = FxImportReport(str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read the file: {exc.strerror}", file=str(path)) from exc
    reader = csv.DictReader(text.splitlines())
    need = {"date", "base", "quote", "rate"}
    if not reader.fieldnames or not need <= {f.strip().lower() for f in reader.fieldnames}:
        raise UserError("a rates file needs the columns date,base,quote,rate", file=str(path))
    rows: dict[tuple[dt.date, str, str], Decimal] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        try:
            on = dt.date.fromisoformat(row["date"])
        except ValueError:
            report.problems.append(Problem("not a date (YYYY-MM-DD)", line, "date"))
            continue
        try:
            base = normalise_currency(row["base"])
            quote = normalise_currency(row["quote"])
        except ValueError as exc:
            report.problems.append(Problem(str(exc), line, "base/quote"))
            continue
        try:
            rate = Decimal(row["rate"])
        except InvalidOperation:
            report.problems.append(Problem("not a number", line, "rate"))
            continue
        if rate <= 0 or base == quote:
            report.problems.append(Problem("a rate must be positive between two currencies", line))
            continue
        rows[(on, base, quote)] = rate.quantize(Decimal(1).scaleb(-10))
    if rows:
        existing = {
            (r.on_date, r.base, r.quote): r
            for r in session.scalars(
                select(FxRate).where(tuple_(FxRate.on_date, FxRate.base, FxRate.quote).in_(rows))
            )
        }
        for key, rate in rows.items():
            if key in existing:
                existing[key].rate = rate
                report.updated += 1
            else:
                session.add(FxRate(on_date=key[0], base=key[1], quote=key[2], rate=rate))
                report.added += 1
        session.flush()
    audit.log(
        session,
        actor,
        "fx.import",
        "fx_rates",
        None,
        {"file": str(path), "added": report.added, "updated": report.updated},
    )
    return report


def rates_frame(session: Session) -> pd.DataFrame:
    """All rates, both directions: columns day (datetime64), base, quote, rate_scaled (Python int).

    The inverse of a stored rate is added where that direction is not stored for the same day.
    """
    rows = session.execute(select(FxRate.on_date, FxRate.base, FxRate.quote, FxRate.rate)).all()
    if not rows:
        return pd.DataFrame(
            {
                "day": pd.Series([], dtype="datetime64[s]"),
                "base": pd.Series([], dtype=object),
                "quote": pd.Series([], dtype=object),
                "rate_scaled": pd.Series([], dtype=object),
            }
        )
    direct = [(d, b, q, int(r * RATE_SCALE)) for d, b, q, r in rows]
    inverse = [(d, b, q, int(Decimal(1) / Decimal(r) * RATE_SCALE)) for d, q, b, r in rows]
    frame = pd.DataFrame(direct + inverse, columns=["day", "base", "quote", "rate_scaled"])
    frame = frame.drop_duplicates(["day", "base", "quote"], keep="first")
    frame["day"] = pd.to_datetime(frame["day"])
    frame["rate_scaled"] = frame["rate_scaled"].astype(object)
    return frame.sort_values("day", kind="stable").reset_index(drop=True)


def lookup(rates: pd.DataFrame, day: pd.Series, base: pd.Series, quote: pd.Series) -> pd.Series:
    """Latest scaled rate on or before each day for each (base, quote); None where unknown."""
    n = len(day)
    if n == 0 or rates.empty:
        return pd.Series([None] * n, dtype=object)
    q = pd.DataFrame(
        {
            "day": pd.to_datetime(day).astype(rates["day"].dtype).to_numpy(),
            "base": base.astype(object).to_numpy(),
            "quote": quote.astype(object).to_numpy(),
            "_i": np.arange(n),
        }
    ).sort_values("day", kind="stable")
    got = pd.merge_asof(q, rates, on="day", by=["base", "quote"], direction="backward")
    got = got.sort_values("_i")
    return pd.Series(
        [None if pd.isna(v) else int(v) for v in got["rate_scaled"]],
        dtype=object,
    )


def convert_minor(amounts: np.ndarray, rate_scaled: pd.Series, src: str, dst: str) -> np.ndarray:
    """Exact conversion of minor units with scaled rates (banker's rounding); object array.

    Elements without a rate come back as None.
    """
    shift = exponent(dst) - exponent(src)
    out = np.empty(len(amounts), dtype=object)
    # Python integers: amount x scaled rate overflows int64; only cross-currency pairs come here.
    for i, (a, r) in enumerate(zip(amounts.tolist(), rate_scaled.tolist(), strict=True)):
        if r is None:
            out[i] = None
            continue
        num = int(a) * int(r) * (10**shift if shift > 0 else 1)
        den = RATE_SCALE * (10**-shift if shift < 0 else 1)
        q, rem = divmod(num, den)
        if rem * 2 > den or (rem * 2 == den and q % 2 == 1):
            q += 1
        out[i] = q
    return out
