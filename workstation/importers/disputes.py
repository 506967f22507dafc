"""Dispute files: Stripe dispute objects and export, Adyen notifications and report, Braintree, CSV.

Every layout is turned into the same normalised dispute dict (`dispute_fields.DISPUTE_FIELDS`,
where the PSP vocabularies are mapped too; `dispute_json` and `dispute_csv` read the layouts);
the import service stores them with `services.disputes.intake.upsert_disputes`, so the records
frame stays empty.
Several observations of one dispute (an Adyen RFI then a CHARGEBACK) come out in time order and
become the case history.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..money import decimal_comma_of
from .base import ImportOptions, ParseResult, Problem, Progress, frame_from_rows
from .dispute_csv import column_map, csv_dispute, csv_layout, csv_rows, header_keys
from .dispute_fields import ADYEN_EVENTS, ADYEN_NOT_DISPUTES, adyen_code
from .dispute_json import (
    adyen_items,
    adyen_notification,
    braintree_dispute,
    braintree_objects,
    stripe_dispute,
    stripe_disputes,
)
from .text import decode

_DISPUTE_EVENT_RE = re.compile(
    rb'"eventCode"\s*:\s*"(?:' + "|".join(ADYEN_EVENTS).encode() + rb')"'
)


def _order(disputes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations in time order (undated ones keep file order, after dated ones of equal id)."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(disputes, key=lambda d: (d["observed_at"] or epoch, d["line"] or 0))


class DisputesImporter:
    """Dispute objects, notifications and exports of Stripe, Adyen, Braintree; generic CSV."""

    name = "disputes"
    label = "Disputes (Stripe, Adyen, Braintree, generic CSV)"

    def sniff(self, head: bytes, filename: str) -> int:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"{", b"["):
            if re.search(rb'"object"\s*:\s*"dispute"', head):
                return 95
            if b'"notificationItems"' in head and _DISPUTE_EVENT_RE.search(head):
                return 95
            if re.search(rb'"(reply_by_date|replyByDate|amount_disputed|amountDisputed)"', head):
                return 90
            return 0
        try:
            sample = head[:8192]
            text, _ = decode(sample[: sample.rfind(b"\n") + 1] or sample)
        except UnicodeError:
            return 0
        first = text.splitlines()[0] if text.strip() else ""
        return 95 if csv_layout(set(header_keys(first))) else 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        text, _ = decode(data, file=str(path))
        stripped = text.lstrip("\ufeff \t\r\n")
        problems: list[Problem] = []
        if stripped[:1] in ("{", "["):
            fmt, disputes = self._parse_json(path, stripped, problems)
        else:
            fmt, disputes = self._parse_csv(path, text, problems)
        if progress is not None:
            progress(1, 1, f"{len(disputes)} dispute observation(s)")
        return ParseResult(
            format=fmt,
            accounts={},
            records=frame_from_rows([]),
            problems=problems,
            disputes=_order(disputes),
            rows_total=len(disputes),
        )

    def _parse_json(
        self, path: Path, text: str, problems: list[Problem]
    ) -> tuple[str, list[dict[str, Any]]]:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
        out: list[dict[str, Any]] = []
        if isinstance(obj, dict) and "notificationItems" in obj:
            for i, item in enumerate(adyen_items(obj), start=1):
                code = adyen_code(str(item.get("eventCode") or ""))
                if code in ADYEN_NOT_DISPUTES or code not in ADYEN_EVENTS:
                    problems.append(
                        Problem(
                            f"event {item.get('eventCode')} is not a dispute event; skipped",
                            field=f"notificationItems[{i}]",
                            severity="warning",
                        )
                    )
                    continue
                if str(item.get("success", "true")).lower() == "false":
                    problems.append(
                        Problem("notification with success=false; skipped", severity="warning")
                    )
                    continue
                self._collect(out, problems, partial(adyen_notification, item, i), i, "item")
            return "adyen_notification", out
        stripe = list(stripe_disputes(obj))
        if stripe:
            for i, item in enumerate(stripe, start=1):
                self._collect(out, problems, partial(stripe_dispute, item, i), i, "item")
            return "stripe_dispute", out
        braintree = list(braintree_objects(obj))
        if braintree:
            for i, item in enumerate(braintree, start=1):
                self._collect(out, problems, partial(braintree_dispute, item, i), i, "item")
            return "braintree_dispute", out
        raise UserError(
            "JSON holds no Stripe dispute, Adyen dispute notification or Braintree dispute",
            file=str(path),
        )

    def _parse_csv(
        self, path: Path, text: str, problems: list[Problem]
    ) -> tuple[str, list[dict[str, Any]]]:
        keys, rows = csv_rows(text)
        layout = csv_layout(set(keys))
        if layout is None:
            raise UserError(
                "not a disputes export: expected columns such as dispute_id, reason_code, amount,"
                " currency, due_by",
                file=str(path),
                line=1,
            )
        cols = column_map(keys, layout)
        for needed in ("dispute_id", "amount", "currency"):
            if needed not in cols:
                raise UserError(
                    f"the {layout} disputes file has no {needed} column", file=str(path), line=1
                )
        out: list[dict[str, Any]] = []
        # the decimal mark is the file's, decided from all its amounts, never per row
        comma = decimal_comma_of(row.get(c) for row in rows for c in cols["amount"])
        for i, row in enumerate(rows, start=2):
            if not row:
                continue
            read = partial(csv_dispute, row, cols, layout, i, comma)
            self._collect(out, problems, read, i, "line")
        return f"{layout}_disputes_csv" if layout != "generic" else "disputes_csv", out

    @staticmethod
    def _collect(
        out: list[dict[str, Any]],
        problems: list[Problem],
        build: Callable[[], dict[str, Any] | None],
        where: int,
        unit: str,
    ) -> None:
        try:
            d = build()
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            if unit == "line":
                problems.append(Problem(msg, line=where))
            else:
                problems.append(Problem(msg, field=f"{unit} {where}"))
            return
        if d is not None:
            out.append(d)


IMPORTER = DisputesImporter()
