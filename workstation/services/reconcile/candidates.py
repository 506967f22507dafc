"""What a reconciliation run reads: the open records and their tokens, blocked pairs, payouts.

The open records come with one query and their shared reference tokens with one more (see
`load_candidates`); the pairs clerks rejected and the stored totals of partly loaded payouts are
read beside them.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...models import Source
from ..common.dataframe_io import id_table, read_frame
from .matchers.token_pairs import MAX_TOKEN_FANOUT
from .working_set import SIDE_OF_SOURCE_KIND, Tokens

OPEN_STATES = "('unmatched', 'suggested')"


def _sources(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Source.id, Source.kind)).all()
    return pd.DataFrame(rows, columns=["id", "kind"])


def _literal_ids(ids: list[int]) -> str:
    return "(" + ",".join(str(int(i)) for i in ids) + ")" if ids else "(-1)"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_candidates(
    session: Session, *, with_counterparty: bool = False, also: str | None = None
) -> tuple[pd.DataFrame, Tokens]:
    """Open records (one query) and their shared reference tokens (one query).

    Args:
        with_counterparty: also load counterparty names (similarity checks).
        also: trusted SQL subquery of more record ids to treat as unmatched (backtests).

    Returns (records, tokens); records have id, source_id, side, kind, booked_on, amount, fee,
    net, orig_amount, orig_currency, currency, payout_ref, state, description (bank lines only)
    and optionally counterparty. When most records are open (a first run), tokens are read as
    groups of records sharing a value (the texts are fetched later, only for the records the
    exact rules leave); otherwise with their texts.
    """
    src = _sources(session)
    bank_ids = src.loc[src["kind"] == "bank", "id"].astype(int).tolist()
    conn = session.connection()
    dialect = conn.dialect.name
    total = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM records")).scalar_one())
    open_count = int(
        conn.execute(
            text(f"SELECT COUNT(*) FROM records WHERE match_state IN {OPEN_STATES}")
        ).scalar_one()
    )
    # Most rows open (first run, benchmark): a table scan beats a million index lookups.
    bulk = total > 0 and open_count * 3 >= total and also is None
    scan = " NOT INDEXED" if bulk and dialect == "sqlite" else ""
    where = f"r.match_state IN {OPEN_STATES}" + (f" OR r.id IN ({also})" if also else "")
    cp = ", r.counterparty" if with_counterparty else ""
    sql = (
        "SELECT r.id, r.source_id, r.kind, r.booked_on, r.amount_minor, r.fee_minor,"
        " COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0)),"
        " r.orig_amount_minor, r.orig_currency, r.currency, r.payout_ref,"
        " CASE WHEN r.match_state = 'suggested' THEN 'suggested' ELSE 'unmatched' END,"
        f" CASE WHEN r.source_id IN {_literal_ids(bank_ids)} THEN r.description END"
        f"{cp} FROM records r{scan} WHERE {where} ORDER BY r.id"
    )
    schema = {
        "id": "int64",
        "source_id": "int64",
        "kind": "category",
        "booked_on": "date",
        "amount": "int64",
        "fee": "int64",
        "net": "int64",
        "orig_amount": "int64",
        "orig_currency": "category",
        "currency": "category",
        "payout_ref": "category",
        "state": "category",
        "description": "string",
    }
    if with_counterparty:
        schema["counterparty"] = "string"
    recs = read_frame(session, sql, schema)
    # A categorical from a lookup by source: mapping two million ids to strings would hold the
    # GIL (and the UI thread) for a quarter of a second.
    side_names = list(dict.fromkeys([*SIDE_OF_SOURCE_KIND.values(), "other"]))
    # one code per source, then "other" last: get_indexer's -1 (unknown source) lands there
    code_of = np.asarray(
        [side_names.index(SIDE_OF_SOURCE_KIND.get(str(k), "other")) for k in src["kind"]]
        + [side_names.index("other")],
        dtype=np.int8,
    )
    codes = code_of[pd.Index(src["id"]).get_indexer(recs["source_id"])]
    recs["side"] = pd.Categorical.from_codes(codes, categories=side_names)
    if bulk:
        agg = (
            "string_agg(CAST(record_id AS TEXT), ' ')"
            if dialect == "postgresql"
            else "group_concat(record_id, ' ')"
        )
        groups = read_frame(
            session,
            f"SELECT {agg} FROM record_references GROUP BY value"
            f" HAVING COUNT(*) BETWEEN 2 AND {MAX_TOKEN_FANOUT}",
            {"ids": "string"},
        )
        toks = _token_groups(groups["ids"].to_numpy(dtype=object))
        return recs, Tokens(toks[0], toks[1], None, lambda ids: _token_texts(session, ids))
    frame = read_frame(
        session,
        "SELECT rr.record_id, rr.value FROM records r"
        f" JOIN record_references rr ON rr.record_id = r.id WHERE {where}",
        {"record_id": "int64", "value": "string"},
    )
    values = frame["value"].to_numpy(dtype=object)
    codes, _ = pd.factorize(values)
    return recs, Tokens(frame["record_id"].to_numpy(np.int64), codes.astype(np.int64), values)


def _token_groups(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record ids, group codes) from 'id id ...' texts, one text per shared token."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(groups) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lists = pc.split_pattern(pa.array(groups, pa.string()), " ")
    ids = pc.cast(pc.list_flatten(lists), pa.int64()).to_numpy()
    codes = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    return ids, codes


def _token_texts(session: Session, ids: np.ndarray) -> pd.DataFrame:
    """(record_id, value) of the tokens of `ids`."""
    schema = {"record_id": "int64", "value": "string"}
    if len(ids) <= 500:
        in_list = _literal_ids(np.asarray(ids).tolist())
        return read_frame(
            session,
            f"SELECT record_id, value FROM record_references WHERE record_id IN {in_list}",
            schema,
        )
    tmp = id_table(session, ids, "tmp_token_ids")
    try:
        return read_frame(
            session,
            "SELECT rr.record_id, rr.value FROM record_references rr"
            f" JOIN {tmp} t ON t.id = rr.record_id",
            schema,
        )
    finally:
        session.connection().execute(text(f"DROP TABLE {tmp}"))


def stored_members(session: Session, status: str) -> pd.DataFrame:
    """(match_id, record_id) of the stored matches with `status`."""
    rows = session.execute(
        text(
            "SELECT mm.match_id, mm.record_id FROM matches m"
            " JOIN match_members mm ON mm.match_id = m.id WHERE m.status = :s"
        ),
        {"s": status},
    ).all()
    return pd.DataFrame(rows, columns=["match_id", "record_id"]).astype("int64")


def blocked_pairs(session: Session) -> set[tuple[int, int]]:
    """Record pairs that were together in a rejected (or clerk-unmatched) match."""
    rejected = stored_members(session, "rejected")
    out: set[tuple[int, int]] = set()
    for _, part in rejected.groupby("match_id"):
        ids = sorted(part["record_id"].tolist())
        out.update(combinations(ids, 2))
    return out


def load_open_payouts(session: Session) -> tuple[pd.DataFrame, set[tuple[int, str]]]:
    """Payouts that may still reach the bank, and the (source, payout id) already settled.

    Open: not in a live level-2 match and not failed or carried forward. Returns (frame with pid,
    src, ref, currency, expected, gross, n_lines, day, line_id; settled keys).
    """
    rows = session.execute(
        text(
            "SELECT p.id, p.source_id, p.payout_ref, p.currency,"
            " COALESCE(p.payout_minor, p.net_minor), p.gross_minor, p.lines,"
            " CAST(p.paid_on AS TEXT), COALESCE(p.payout_record_id, -1), p.state,"
            " EXISTS (SELECT 1 FROM match_payouts mp WHERE mp.payout_id = p.id AND mp.live)"
            " FROM payouts p"
        )
    ).all()
    cols = ["pid", "src", "ref", "currency", "expected", "gross", "n_lines", "day", "line_id"]
    settled = {(int(r[1]), str(r[2])) for r in rows if r[10]}
    open_rows = [r[:9] for r in rows if not r[10] and r[9] in ("open", "in_transit")]
    frame = pd.DataFrame(open_rows, columns=cols)
    days = pd.to_datetime(frame["day"].astype(str).str.slice(0, 10)).to_numpy(dtype="datetime64[D]")
    frame["day"] = (days - np.datetime64("1970-01-01")).astype(np.int64)
    for c in ("pid", "src", "expected", "gross", "n_lines", "line_id"):
        frame[c] = frame[c].astype(np.int64)
    frame["ref"] = frame["ref"].astype(object)
    # bank line x payout pairs a clerk rejected (or unmatched): never proposed again
    blocked = session.execute(
        text(
            "SELECT DISTINCT mm.record_id, mp.payout_id FROM matches m"
            " JOIN match_payouts mp ON mp.match_id = m.id"
            " JOIN match_members mm ON mm.match_id = m.id AND mm.side = 'bank'"
            " WHERE m.status = 'rejected'"
        )
    ).all()
    frame.attrs["blocked"] = {(int(a), int(b)) for a, b in blocked}
    return frame, settled
