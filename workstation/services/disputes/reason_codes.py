"""Card-network reason codes as editable data: seeded from reason_codes.csv, looked up by code."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import ReasonCode
from ...paths import resources_dir

# The queue filters on these; each network's own grouping maps onto one of them.
CATEGORIES = ("fraud", "authorization", "processing_error", "consumer_dispute", "inquiry")
_CATEGORY_MAP = {
    "fraud": "fraud",
    "authorization": "authorization",
    "processing_error": "processing_error",
    "point_of_interaction_error": "processing_error",
    "consumer_dispute": "consumer_dispute",
    "cardholder_dispute": "consumer_dispute",
    "card_member_dispute": "consumer_dispute",
    "inquiry_misc": "inquiry",
    "inquiry": "inquiry",
}
_NETWORKS = {
    "visa": "Visa",
    "mc": "Mastercard",
    "mastercard": "Mastercard",
    "maestro": "Mastercard",
    "amex": "Amex",
    "americanexpress": "Amex",
    "american_express": "Amex",
    "discover": "Discover",
    "diners": "Discover",
    "dinersclub": "Discover",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cup": "UnionPay",
}
# Discover's numeric dispute codes (as acquirers send them) -> the alpha codes of the table.
DISCOVER_NUMERIC = {
    "4534": "DP",
    "4541": "AP",
    "4553": "RM",
    "4752": "AA",
    "4755": "RG",
    "7030": "UA02",
    "8002": "RN2",
}
_NOT_DEFENDABLE = re.compile(r"not defendable", re.IGNORECASE)


@dataclass(frozen=True)
class ReasonInfo:
    """What a reason code means for the dispute desk."""

    network: str
    code: str
    title: str
    category: str  # one of CATEGORIES
    network_category: str  # the network's own grouping, as in the table
    typical_evidence: str
    response_days: int | None
    defendable: bool


def csv_path() -> Path:
    """The shipped reason-code table."""
    return resources_dir() / "reason_codes.csv"


def normalise_network(value: str | None) -> str | None:
    """`visa`/`VISA` -> Visa, `mc` -> Mastercard, `american_express` -> Amex; None stays None."""
    if value is None:
        return None
    key = re.sub(r"[\s\-]", "", str(value)).lower()
    if not key:
        return None
    return _NETWORKS.get(key, str(value).strip()[:16])


def normalise_category(value: str | None) -> str | None:
    """A network's category name -> one of CATEGORIES (unknown names pass through lower-cased)."""
    if not value:
        return None
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    return _CATEGORY_MAP.get(key, key)


def category_names(categories: Iterable[str]) -> list[str]:
    """Our categories plus every network name that maps onto them (for filters on stored data)."""
    wanted = {normalise_category(c) for c in categories}
    names = {k for k, v in _CATEGORY_MAP.items() if v in wanted}
    return sorted(names | {c for c in wanted if c})


def normalise_code(network: str | None, code: str | None) -> str | None:
    """Canonical code for the table: upper-case, Discover numeric -> alpha, MC `37` -> `4837`."""
    if code is None:
        return None
    c = str(code).strip().upper()
    if not c:
        return None
    net = normalise_network(network)
    if net == "Discover" and c in DISCOVER_NUMERIC:
        return DISCOVER_NUMERIC[c]
    if net == "Mastercard" and c.isdigit() and len(c) == 2:
        return "48" + c
    return c[:16]


def read_csv(path: Path | None = None) -> list[dict[str, Any]]:
    """Rows of a reason-code CSV (network, code, title, category, response_days, ...)."""
    p = path or csv_path()
    with p.open(encoding="utf-8-sig", newline="") as fh:
        rows = []
        for row in csv.DictReader(fh):
            days = (row.get("response_days") or "").strip()
            rows.append(
                {
                    "network": (normalise_network(row["network"]) or "").strip(),
                    "code": (row["code"] or "").strip().upper(),
                    "title": (row.get("title") or "").strip(),
                    "category": (row.get("category") or "").strip(),
                    "response_days": int(days) if days.isdigit() else None,
                    "typical_evidence": (row.get("typical_evidence") or "").strip() or None,
                }
            )
    return rows


def ensure_loaded(session: Session, *, overwrite: bool = False, path: Path | None = None) -> int:
    """Insert the shipped codes that are missing; returns rows inserted or updated.

    Rows already in the table are user data and stay as they are unless `overwrite` is set
    (then the shipped title, category, days and evidence replace the stored ones).
    """
    existing = {(r.network, r.code): r for r in session.scalars(select(ReasonCode))}
    changed = 0
    for row in read_csv(path):
        key = (row["network"], row["code"])
        current = existing.get(key)
        if current is None:
            session.add(ReasonCode(**row))
            changed += 1
        elif overwrite:
            for field, value in row.items():
                setattr(current, field, value)
            changed += 1
    if changed:
        session.flush()
    return changed


def _info(rc: ReasonCode) -> ReasonInfo:
    evidence = rc.typical_evidence or ""
    return ReasonInfo(
        network=rc.network,
        code=rc.code,
        title=rc.title,
        category=normalise_category(rc.category) or "consumer_dispute",
        network_category=rc.category,
        typical_evidence=evidence,
        response_days=rc.response_days,
        defendable=not _NOT_DEFENDABLE.search(evidence),
    )


class ReasonTable:
    """All reason codes of the database, loaded once for a batch of look-ups."""

    def __init__(self, session: Session) -> None:
        if session.scalar(select(ReasonCode.id).limit(1)) is None:
            ensure_loaded(session)  # first use of a new database
        self._by_key = {(r.network, r.code): _info(r) for r in session.scalars(select(ReasonCode))}

    def lookup(self, network: str | None, code: str | None) -> ReasonInfo | None:
        """The code's meaning, or None when the network or code is unknown."""
        net = normalise_network(network)
        canon = normalise_code(net, code)
        if net is None or canon is None:
            return None
        return self._by_key.get((net, canon))

    def __len__(self) -> int:
        return len(self._by_key)


def lookup(session: Session, network: str | None, code: str | None) -> ReasonInfo | None:
    """One look-up (use `ReasonTable` for many)."""
    return ReasonTable(session).lookup(network, code)


@cache
def checklists() -> dict[str, Any]:
    """The evidence checklist definitions (resources/evidence_checklists.json)."""
    data: dict[str, Any] = json.loads(
        (resources_dir() / "evidence_checklists.json").read_text(encoding="utf-8")
    )
    return data


def checklist_id(
    network: str | None, code: str | None, category: str | None, psp_reason: str | None, stage: str
) -> str:
    """Which checklist applies: by network code, then inquiry stage, PSP reason, category."""
    data = checklists()
    net = normalise_network(network)
    canon = normalise_code(net, code)
    if net and canon:
        found = data["by_code"].get(net, {}).get(canon)
        if found:
            return str(found)
    if stage == "inquiry":
        return "inquiry"
    if psp_reason:
        found = data["by_psp_reason"].get(psp_reason.strip().lower())
        if found:
            return str(found)
    if category:
        found = data["by_category"].get(normalise_category(category) or "")
        if found:
            return str(found)
    return "consumer_general"


def evidence_kinds() -> dict[str, str]:
    """Evidence kinds (PSP-style categories) and their labels."""
    return dict(checklists()["kinds"])
