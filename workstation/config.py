"""Settings declared once (name, type, default, help); values live in the `settings` table."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SettingSpec:
    name: str
    type: type
    default: Any
    help: str


SETTINGS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        SettingSpec("merchant.name", str, "Example Merchant Ltd", "Merchant name on cover letters"),
        SettingSpec("merchant.address", str, "1 Market Street, Springfield", "Merchant address"),
        SettingSpec("merchant.descriptor", str, "EXAMPLE*SHOP", "Card statement descriptor"),
        SettingSpec("match.date_window_days", int, 4, "Amount + date rule: days either side"),
        SettingSpec("match.abs_tolerance_minor", int, 0, "Amount tolerance, minor units"),
        SettingSpec("match.pct_tolerance", str, "0", "Amount tolerance, percent (Decimal text)"),
        SettingSpec("evidence.max_file_bytes", int, 5 * 2**20, "Largest evidence file accepted"),
        SettingSpec(
            "disputes.fee",
            str,
            "15.00",
            "Dispute fee assumed by the accept-or-fight hint, in the dispute's currency (Decimal)",
        ),
        SettingSpec(
            "disputes.cover_letter",
            str,
            "",
            "Cover letter template ($placeholders); empty: resources/templates/cover_letter.txt",
        ),
        SettingSpec("cases.due_days", int, 5, "Days to resolve a new exception case"),
        SettingSpec(
            "match.writeoff_max_minor", int, 500, "Largest difference a clerk may write off, minor"
        ),
        SettingSpec(
            "import.earliest_date",
            str,
            "1990-01-01",
            "Earliest booking/value date an import accepts (ISO date); older lines are refused",
        ),
        SettingSpec(
            "import.latest_days_ahead",
            int,
            730,
            "Latest booking/value date an import accepts, in days after today",
        ),
    )
}


def get(session: Session, name: str) -> Any:
    """A setting's value (the stored one, else its default)."""
    from .models import Setting

    spec = SETTINGS[name]
    row = session.get(Setting, name)
    return spec.default if row is None else spec.type(row.value)


def put(session: Session, name: str, value: Any) -> None:
    """Store a setting (type-checked against its declaration)."""
    from .models import Setting

    spec = SETTINGS[name]
    typed = spec.type(value)
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(key=name, value=typed))
    else:
        row.value = typed


def current_login() -> str:
    """The acting user: `$WORKSTATION_USER`, else the operating-system login."""
    login = os.environ.get("WORKSTATION_USER")
    if login:
        return login
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "user"
