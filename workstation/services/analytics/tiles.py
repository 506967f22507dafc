"""Dashboard tiles: each metric's headline as display text, a colour status and a drill filter.

Tiles are built from a `Reader` in catalogue order; a metric that names a tile without a builder
here gets `generic_tile` (its headline, formatted by kind, coloured against its first threshold).

Status rules of the ratio tiles: `alert` at or above the scheme threshold (Visa VAMP excessive
ratio of the month; Mastercard ECM 1.5 %, or an ECM/HECM level reached), `warn` from three
quarters of it, else `ok`; `neutral` when there is no ratio (no transactions to divide by).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...money import format_minor
from .charts import fmt_percent
from .dispute_metrics import CLOSED_DISPUTE_STATUSES
from .headlines import period_filter
from .measures import main_currency, ratio
from .reading import Metric, Reader, Scope

WARN_SHARE = Decimal("0.75")  # a ratio tile turns amber at this share of its threshold
STATUSES = ("ok", "warn", "alert", "neutral")


@dataclass(frozen=True)
class Tile:
    """One headline number as shown: label, value text, detail line, colour status, drill."""

    key: str
    label: str
    value: str
    detail: str = ""
    status: str = "neutral"
    tooltip: str = ""
    drill: dict[str, Any] | None = None


def _status(ratio: Decimal | None, threshold: Decimal, reached: bool = False) -> str:
    if ratio is None:
        return "neutral"
    if reached or ratio >= threshold:
        return "alert"
    if ratio >= threshold * WARN_SHARE:
        return "warn"
    return "ok"


def _money(minor: int, currency: str) -> str:
    return format_minor(int(minor), currency, symbol=True)


def _period_drill(page: str, prefix: str, scope: Scope, **extra: Any) -> dict[str, Any]:
    return {
        "page": page,
        "filters": {**period_filter(scope.date_from, scope.date_to, prefix), **extra},
    }


def _ratio_tile(
    read: Reader,
    name: str,
    label: str,
    places: int,
    tooltip: str,
    *,
    missing: str = "",
    drill_page: str | None = None,
) -> Tile:
    """Metric `name`'s headline ratio as a percentage; the drill is the headline's, or the
    period's lines on `drill_page`."""
    head = read.headline(name)
    drill = head.drill if head else None
    if drill_page is not None:
        drill = _period_drill(drill_page, "booked", read.scope)
    return Tile(
        name,
        label,
        fmt_percent(head.value if head else None, places),  # type: ignore[arg-type]
        head.detail if head else missing,
        tooltip=tooltip,
        drill=drill,
    )


def _match_rate(read: Reader) -> Tile:
    tip = "Share of the period's lines (not ignored) that are matched or written off"
    return _ratio_tile(read, "match_rate", "Match rate (lines)", 1, tip)


def _win_rate(read: Reader) -> Tile:
    tip = "Won / (won + lost) of the disputes opened in the period"
    return _ratio_tile(read, "win_rate", "Dispute win rate", 1, tip)


def _fees(read: Reader) -> Tile:
    tip = "PSP fees / gross card volume of the period"
    return _ratio_tile(
        read, "fees", "Effective fee rate", 2, tip, missing="no card volume", drill_page="matches"
    )


def _share_tile(
    read: Reader,
    name: str,
    label: str,
    part: str,
    whole: str,
    *,
    missing: str,
    tooltip: Callable[[str, list[str]], str],
    drill: Callable[[str], dict[str, Any]],
    suffix: str = "",
) -> Tile:
    """Σ `part` / Σ `whole` of metric `name`'s table in its main currency (largest Σ `whole`);
    `tooltip` and `drill` are made for that currency (and the others it leaves out)."""
    df = read(name)
    cur = main_currency(df, whole)
    if cur is None:
        return Tile(name, label, "n/a", missing)
    rows = df[df["currency"] == cur]
    num, den = int(rows[part].sum()), int(rows[whole].sum())
    return Tile(
        name,
        label,
        fmt_percent(ratio(num, den), 1),
        f"{_money(num, cur)} of {_money(den, cur)}{suffix}",
        tooltip=tooltip(cur, sorted(set(df["currency"]) - {cur})),
        drill=drill(cur),
    )


def _match_value(read: Reader) -> Tile:
    return _share_tile(
        read,
        "match_value",
        "Match rate (value)",
        "reconciled_minor",
        "value_minor",
        missing="no lines in the period",
        tooltip=lambda cur, others: (
            f"Reconciled share of the absolute {cur} amounts of the "
            "period" + (f"; also {', '.join(others)} lines (not converted)" if others else "")
        ),
        drill=lambda cur: _period_drill("exceptions", "booked", read.scope, currency=cur),
    )


def _unmatched_value(read: Reader) -> Tile:
    uv = read.headline("unmatched_value")
    if uv is None or uv.kind != "money" or not uv.currency:
        return Tile("unmatched_value", "Open (unmatched) value", "0", "nothing open")
    return Tile(
        "unmatched_value",
        "Open (unmatched) value",
        _money(int(uv.value or 0), uv.currency),
        uv.detail,
        tooltip=f"Unmatched and suggested lines up to {read.scope.ages_from}, every age",
        drill=uv.drill,
    )


def _vamp(read: Reader) -> Tile | None:
    months = read("vamp")
    if not months:
        return None
    v = months[-1]
    min_count = read.thresholds("vamp")[0].min_count
    limit = fmt_percent(v.threshold, 1)
    note = (
        ""
        if v.applies
        else f" The program does not apply this month ({v.count:,} is not above {min_count:,})."
    )
    head = read.headline("vamp")
    return Tile(
        "vamp",
        f"Visa VAMP {v.month:%b %Y}",
        fmt_percent(v.ratio, 2),
        f"{v.count:,} / {v.settled:,} · limit {limit}",
        _status(v.ratio, v.threshold, v.excessive),
        tooltip=(
            f"(TC40 fraud reports {v.fraud_reports:,} + TC15 disputes {v.disputes:,}) / "
            f"{v.settled:,} settled Visa card-not-present transactions; excessive at "
            f">= {limit} with more than {min_count:,} fraud reports + disputes." + note
        ),
        drill=head.drill if head else None,
    )


def _ecp(read: Reader) -> Tile | None:
    months = read("ecp")
    if not months:
        return None
    e = months[-1]
    ecm, hecm = read.thresholds("ecp")
    limit = fmt_percent(ecm.at(e.month), 1)
    head = read.headline("ecp")
    return Tile(
        "ecp",
        f"Mastercard ECP {e.month:%b %Y}",
        fmt_percent(e.ratio, 2),
        f"{e.chargebacks:,} / {e.prior_transactions:,} · limit {limit}"
        + (f" · {e.level}" if e.level else ""),
        _status(e.ratio, ecm.at(e.month), e.level is not None),
        tooltip=(
            f"{e.chargebacks:,} chargebacks / {e.prior_transactions:,} Mastercard "
            f"transactions in {e.prior_month:%b %Y}; {ecm.name} at >= {ecm.min_count} "
            f"chargebacks and {limit}, {hecm.name} at >= {hecm.min_count} and "
            f"{fmt_percent(hecm.at(e.month), 1)}"
        ),
        drill=head.drill if head else None,
    )


def _recovery_rate(read: Reader) -> Tile:
    closed = list(CLOSED_DISPUTE_STATUSES)
    return _share_tile(
        read,
        "recovery_rate",
        "Recovery rate",
        "won_minor",
        "closed_minor",
        missing="no disputes in the period",
        tooltip=lambda _cur, _others: (
            "Value won / value of closed disputes (won, lost, accepted, expired)"
        ),
        drill=lambda _cur: _period_drill("disputes", "opened", read.scope, status=closed),
        suffix=" closed",
    )


def _due_7d(read: Reader) -> Tile:
    due = read.headline("due_7d")
    n_due = int(due.value or 0) if due else 0  # type: ignore[arg-type]
    return Tile(
        "due_7d",
        "Disputes due in 7 days",
        f"{n_due:,}",
        due.detail if due else "",
        "warn" if n_due else "ok",
        tooltip="Disputes needing a response with a deadline in the next 7 days",
        drill=due.drill if due else {"page": "disputes", "filters": {"due_within_days": 7}},
    )


def _lag(read: Reader) -> Tile | None:
    lag = read.headline("lag")
    if lag is None:
        return None
    days = lag.value
    return Tile(
        "lag",
        "Capture to bank",
        "n/a" if days is None else f"{days:,} days",  # type: ignore[str-format]
        lag.detail,
        tooltip="Median days from a charge to the bank credit of its payout, slowest PSP",
        drill=_period_drill("matches", "booked", read.scope),
    )


# Tile builders by tile key (the order on the page is the catalogue's).
TILES: dict[str, Callable[[Reader], Tile | None]] = {
    "match_rate": _match_rate,
    "match_value": _match_value,
    "unmatched_value": _unmatched_value,
    "vamp": _vamp,
    "ecp": _ecp,
    "win_rate": _win_rate,
    "recovery_rate": _recovery_rate,
    "due_7d": _due_7d,
    "fees": _fees,
    "lag": _lag,
}


def format_headline(value: Any, kind: str, currency: str | None = None) -> str:
    """Display text of a headline value of `kind` (percent, money, count, days, text)."""
    if value is None:
        return "n/a"
    if kind == "percent":
        return fmt_percent(value, 1)
    if kind == "money" and currency:
        return _money(int(value), currency)
    if kind in ("count", "money"):
        return f"{int(value):,}"
    if kind == "days":
        return f"{value:,} days"
    return str(value)


def generic_tile(metric: Metric, read: Reader) -> Tile | None:
    """A metric's headline as a tile, for metrics with no builder of their own."""
    head = read.headline(metric.name)
    if head is None or metric.tile is None:
        return None
    status = "neutral"
    if metric.thresholds and head.kind == "percent":
        limit = metric.thresholds[0].at(read.scope.date_to)
        status = _status(head.value, limit)  # type: ignore[arg-type]
    return Tile(
        metric.tile,
        head.label,
        format_headline(head.value, head.kind, head.currency),
        head.detail,
        status,
        tooltip=metric.description,
        drill=head.drill,
    )


def build_tiles(read: Reader) -> list[Tile]:
    """The tiles of every metric that names one, in catalogue order."""
    out = []
    for metric in read.metrics.values():
        if metric.tile is None:
            continue
        build = TILES.get(metric.tile)
        tile = build(read) if build is not None else generic_tile(metric, read)
        if tile is not None:
            out.append(tile)
    return out
