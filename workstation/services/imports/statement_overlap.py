"""The same bank statement twice: camt and MT940 of one account, or overlapping exports.

A bank often delivers one account both as camt.053 (entries with an `AcctSvcrRef`) and as MT940
(`:61:` with NONREF, or another reference), and exports overlap. The line fingerprint
(`dedupe.fingerprints`) hashes the bank reference, so a reference only one format carries makes
the same booking look new. This module recognises a statement by its account (the Source both
formats resolve to by IBAN / account number), the period the lines already stored for it cover
(per import batch: first to last booking date), and its lines by booking date, amount, currency
and direction (the sign of the amount) as a multiset: two equal lines on one day count twice.

An incoming bank line that was not recognised by its fingerprint and falls inside a stored period
of its account is a duplicate when a stored line, not already taken by another incoming line, has
the same date, amount and currency, whatever either reference says, with one exception: when
the stored line and the incoming line both carry a reference and both come from the same format
family (camt.052/053/054, MT940/942, BAI2, OFX), a different reference is a different booking
(that is what the fingerprint already decided). Lines in the overlap that match nothing are new.
Every line inside a stored period is reported (`StatementOverlap.lines`) so the preview can show
which lines were taken as already stored, by what, and which are new.

Only bank sources and bank statement formats take part: PSP and ledger lines with the same date
and amount are distinct (two equal charges), so they keep fingerprint-only dedupe. All work is
whole-column pandas (merges on ranked keys); the stored side is read only for the incoming
lines' account and date range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from .column_conversions import strings
from .dedupe import rows_frame

# Formats whose lines are bank statement lines, and the family whose references are comparable.
_FAMILIES = {
    "camt.052": "camt",
    "camt.053": "camt",
    "camt.054": "camt",
    "mt940": "mt940",
    "mt942": "mt940",
    "bai2": "bai2",
    "ofx": "ofx",
}
# Lines listed per statement overlap; the counts are always complete.
MAX_LINES = 2000
_KEY = ["source_id", "_booked", "amount_minor", "currency"]

_STORED = text(
    "SELECT id, source_id, batch_id, fingerprint, occurrence, booked_on, amount_minor, currency, "
    "external_id, line_no FROM records "
    "WHERE source_id = :s AND booked_on >= :lo AND booked_on <= :hi"
).bindparams(bindparam("lo", type_=Date), bindparam("hi", type_=Date))
# Aggregated before the join: one batch row per import, not one per line.
_PERIODS = text(
    "SELECT p.batch_id, p.lo, p.hi, b.file_name, b.format FROM ("
    "SELECT batch_id, MIN(booked_on) AS lo, MAX(booked_on) AS hi FROM records "
    "WHERE source_id = :s GROUP BY batch_id) p JOIN import_batches b ON b.id = p.batch_id "
    "WHERE p.lo <= :hi AND p.hi >= :lo"
).bindparams(bindparam("lo", type_=Date), bindparam("hi", type_=Date))


def family(fmt: str | None) -> str | None:
    """The reference family of a bank statement format, None for other formats."""
    return _FAMILIES.get(fmt or "")


@dataclass
class StoredPeriod:
    """The days one earlier import batch holds for the account."""

    batch_id: int
    file_name: str
    format: str
    first: str  # ISO date
    last: str


@dataclass
class OverlapLine:
    """One incoming line inside a stored period, and what became of it."""

    line_no: int
    booked_on: str
    amount_minor: int
    currency: str
    direction: str  # credit | debit
    reference: str | None
    status: str  # "stored" (a duplicate, not added) | "new" (added)
    matched_by: str | None = None  # "reference" (fingerprint) | "date and amount"
    stored_record_id: int | None = None
    stored_reference: str | None = None
    stored_file: str | None = None
    stored_line_no: int | None = None


@dataclass
class StatementOverlap:
    """An incoming statement's lines of one account against what is stored for that account."""

    account: str
    source_id: int
    first: str  # the incoming lines' first and last booking date
    last: str
    lines_total: int  # incoming lines of this account
    in_stored_period: int  # of which inside a stored period
    already_stored: int  # of those, duplicates (by reference or by date and amount)
    by_date_and_amount: int  # duplicates recognised without a common reference
    new_in_overlap: int  # inside a stored period but matching nothing stored: added
    stored_periods: list[StoredPeriod] = field(default_factory=list)
    lines: list[OverlapLine] = field(default_factory=list)
    lines_left_out: int = 0  # lines beyond MAX_LINES not listed

    @property
    def partial(self) -> bool:
        """Some lines of the overlap were stored already and some are new."""
        return self.already_stored > 0 and self.new_in_overlap > 0

    def summary(self) -> dict[str, Any]:
        """The counts (kept in the batch report)."""
        out = {k: v for k, v in self.__dict__.items() if k != "lines"}
        out["stored_periods"] = [asdict(p) for p in self.stored_periods]
        out["partial"] = self.partial
        return out

    def as_json(self) -> dict[str, Any]:
        """Counts and lines (the CLI's JSON, the preview)."""
        out = self.summary()
        out["lines"] = [asdict(line) for line in self.lines]
        return out


@dataclass
class OverlapResult:
    """Extra duplicates found by statement overlap, and the per-account report."""

    duplicates: np.ndarray
    overlaps: list[StatementOverlap]


def find_overlaps(
    session: Session,
    df: pd.DataFrame,
    fingerprint_dup: np.ndarray,
    fmt: str,
    bank_sources: dict[int, str],
) -> OverlapResult:
    """Lines of `df` already stored as another statement of the same account.

    Args:
        session: the import's session (reads records and import_batches).
        df: normalised lines with source_id, _booked (ISO text), amount_minor, currency,
            bank_ref, external_id, fingerprint, occurrence, line_no.
        fingerprint_dup: rows already found stored by fingerprint.
        fmt: the file's format (`ParseResult.format`).
        bank_sources: source id -> account name of the bank sources the file speaks of.

    Returns:
        a mask of further duplicates (not including `fingerprint_dup`) and one
        `StatementOverlap` per account whose lines fall inside a stored period.
    """
    extra = np.zeros(len(df), dtype=bool)
    incoming_family = family(fmt)
    if incoming_family is None or not bank_sources or df.empty:
        return OverlapResult(extra, [])
    in_bank = df["source_id"].isin(list(bank_sources)).to_numpy()
    if not in_bank.any():
        return OverlapResult(extra, [])
    overlaps: list[StatementOverlap] = []
    for source_id, name in bank_sources.items():
        mask = in_bank & (df["source_id"].to_numpy() == source_id)
        if not mask.any():
            continue
        part = df.loc[mask]
        found = _overlap_of_source(
            session, part, fingerprint_dup[mask], incoming_family, source_id, name
        )
        if found is None:
            continue
        dup_part, overlap = found
        extra[np.flatnonzero(mask)[dup_part]] = True
        overlaps.append(overlap)
    return OverlapResult(extra, overlaps)


def _iso(values: pd.Series) -> pd.Series:
    """Dates read back from the database (date objects or ISO text) as ISO text."""
    return values.astype(str).str.slice(0, 10)


def _ref(df: pd.DataFrame) -> pd.Series:
    ref = df["bank_ref"].where(df["bank_ref"].notna(), df["external_id"])
    ref = ref.astype(object).where(ref.notna(), None)
    text_ref = ref.astype(str).str.strip()
    return text_ref.where(ref.notna() & (text_ref != ""), None)


def _stored_periods(session: Session, source_id: int, lo: str, hi: str) -> list[StoredPeriod]:
    rows = session.connection().execute(
        _PERIODS,
        {"s": source_id, "lo": dt.date.fromisoformat(lo), "hi": dt.date.fromisoformat(hi)},
    )
    return sorted(
        (
            StoredPeriod(int(b), str(f), str(fm), str(first)[:10], str(last)[:10])
            for b, first, last, f, fm in rows
        ),
        key=lambda p: (p.first, p.batch_id),
    )


def _inside(dates: pd.Series, periods: list[StoredPeriod]) -> np.ndarray:
    """Mask of ISO dates inside any of the periods (a handful of batches: one pass each)."""
    values = dates.to_numpy(dtype="U10")
    inside = np.zeros(len(values), dtype=bool)
    for p in periods:
        inside |= (values >= p.first) & (values <= p.last)
    return inside


def _pair(q: pd.DataFrame, s: pd.DataFrame) -> pd.DataFrame:
    """Pair incoming and stored lines with equal keys, the n-th with the n-th (count-aware)."""
    if q.empty or s.empty:
        return pd.DataFrame({"qi": [], "sid": []}, dtype="int64")
    q = q.assign(rank=q.groupby(_KEY, sort=False).cumcount())
    s = s.assign(rank=s.groupby(_KEY, sort=False).cumcount())
    return q[[*_KEY, "rank", "qi"]].merge(s[[*_KEY, "rank", "sid"]], on=[*_KEY, "rank"])[
        ["qi", "sid"]
    ]


def _overlap_of_source(
    session: Session,
    part: pd.DataFrame,
    fp_dup: np.ndarray,
    incoming_family: str,
    source_id: int,
    name: str,
) -> tuple[np.ndarray, StatementOverlap] | None:
    # the range first (arrow kernels): most imports meet no stored period and stop here
    span = pc.min_max(strings(part["_booked"])).as_py()
    lo, hi = str(span["min"]), str(span["max"])
    periods = _stored_periods(session, source_id, lo, hi)
    if not periods:
        return None
    booked = part["_booked"].astype(str)
    inside = _inside(booked, periods)
    if not inside.any():
        return None
    rows = session.connection().execute(
        _STORED, {"s": source_id, "lo": dt.date.fromisoformat(lo), "hi": dt.date.fromisoformat(hi)}
    )
    stored = rows_frame(
        rows.all(),
        [
            "sid",
            "source_id",
            "batch_id",
            "fingerprint",
            "occurrence",
            "_booked",
            "amount_minor",
            "currency",
            "external_id",
            "line_no",
        ],
    )
    # every stored line in the range belongs to a batch whose period meets the range
    stored["family"] = stored["batch_id"].map({p.batch_id: family(p.format) for p in periods})
    stored["file_name"] = stored["batch_id"].map({p.batch_id: p.file_name for p in periods})
    stored["_booked"] = _iso(stored["_booked"])
    for col in ("sid", "source_id", "batch_id", "fingerprint", "occurrence", "amount_minor"):
        stored[col] = stored[col].astype("int64")
    stored["currency"] = stored["currency"].astype(str)
    incoming = pd.DataFrame(
        {
            "qi": np.arange(len(part), dtype=np.int64),
            "source_id": part["source_id"].astype("int64").to_numpy(),
            "_booked": booked.to_numpy(dtype=object),
            "amount_minor": part["amount_minor"].astype("int64").to_numpy(),
            "currency": part["currency"].astype(str).to_numpy(dtype=object),
            "fingerprint": part["fingerprint"].astype("int64").to_numpy(),
            "occurrence": part["occurrence"].astype("int64").to_numpy(),
            "line_no": part["line_no"].astype("int64").to_numpy(),
            "ref": _ref(part).to_numpy(dtype=object),
        }
    )
    # Stored lines the fingerprint already recognised are taken.
    by_fp = incoming.loc[fp_dup, ["qi", "source_id", "fingerprint", "occurrence"]].merge(
        stored[["sid", "source_id", "fingerprint", "occurrence"]],
        on=["source_id", "fingerprint", "occurrence"],
    )[["qi", "sid"]]
    pool = stored[~stored["sid"].isin(by_fp["sid"])]
    open_q = incoming[~fp_dup & inside]
    strict_s = pool["family"].eq(incoming_family) & pool["external_id"].notna()
    has_ref = open_q["ref"].notna()
    # Referenced incoming lines never pair with same-family referenced stored lines.
    a = _pair(open_q[has_ref], pool[~strict_s])
    b = _pair(open_q[~has_ref], pool[strict_s])
    rest_q = open_q[~has_ref & ~open_q["qi"].isin(b["qi"])]
    c = _pair(rest_q, pool[~strict_s & ~pool["sid"].isin(a["sid"])])
    by_amount = pd.concat([a, b, c], ignore_index=True)
    dup = np.zeros(len(part), dtype=bool)
    dup[by_amount["qi"].to_numpy(dtype=np.int64)] = True
    overlap = _report(
        name, source_id, incoming, inside, fp_dup, by_fp, by_amount, stored, periods, dup
    )
    return dup, overlap


def _report(
    name: str,
    source_id: int,
    incoming: pd.DataFrame,
    inside: np.ndarray,
    fp_dup: np.ndarray,
    by_fp: pd.DataFrame,
    by_amount: pd.DataFrame,
    stored: pd.DataFrame,
    periods: list[StoredPeriod],
    dup: np.ndarray,
) -> StatementOverlap:
    listed = incoming[inside].copy()
    how = pd.concat(
        [by_fp.assign(matched_by="reference"), by_amount.assign(matched_by="date and amount")],
        ignore_index=True,
    ).drop_duplicates("qi")
    details = stored[["sid", "external_id", "file_name", "line_no"]].rename(
        columns={"line_no": "stored_line_no", "external_id": "stored_reference"}
    )
    listed = listed.merge(how, on="qi", how="left")
    listed["sid"] = listed["sid"].astype("float64")
    listed = listed.merge(details.astype({"sid": "float64"}), on="sid", how="left")
    taken = inside & (fp_dup | dup)
    new_in = int((inside & ~fp_dup & ~dup).sum())
    listed = listed.sort_values(["_booked", "line_no"], kind="stable")
    shown = listed.head(MAX_LINES)
    lines = [
        OverlapLine(
            line_no=int(r["line_no"]),
            booked_on=str(r["_booked"]),
            amount_minor=int(r["amount_minor"]),
            currency=str(r["currency"]),
            direction="debit" if int(r["amount_minor"]) < 0 else "credit",
            reference=r["ref"] if isinstance(r["ref"], str) else None,
            status="stored" if isinstance(r["matched_by"], str) else "new",
            matched_by=r["matched_by"] if isinstance(r["matched_by"], str) else None,
            stored_record_id=None if pd.isna(r["sid"]) else int(r["sid"]),
            stored_reference=r["stored_reference"]
            if isinstance(r["stored_reference"], str)
            else None,
            stored_file=r["file_name"] if isinstance(r["file_name"], str) else None,
            stored_line_no=None if pd.isna(r["stored_line_no"]) else int(r["stored_line_no"]),
        )
        for r in shown.to_dict("records")
    ]
    return StatementOverlap(
        account=name,
        source_id=source_id,
        first=str(incoming["_booked"].min()),
        last=str(incoming["_booked"].max()),
        lines_total=len(incoming),
        in_stored_period=int(inside.sum()),
        already_stored=int(taken.sum()),
        by_date_and_amount=int(dup.sum()),
        new_in_overlap=new_in,
        stored_periods=periods,
        lines=lines,
        lines_left_out=max(0, len(listed) - MAX_LINES),
    )
