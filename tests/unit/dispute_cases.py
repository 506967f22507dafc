"""A generic open chargeback for tests that need one dispute case to work on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from workstation.services.disputes.intake import upsert_disputes


def open_case(session: Session, psp_dispute_id: str, **fields: Any) -> int:
    """Store a Visa 13.1 chargeback of 42.00 EUR due in four days; returns the dispute id."""
    observation = {
        "psp": "generic",
        "psp_dispute_id": psp_dispute_id,
        "network": "visa",
        "reason_code": "13.1",
        "stage": "chargeback",
        "status": "needs_response",
        "amount_minor": 4200,
        "currency": "EUR",
        "due_by": dt.datetime.now(dt.UTC) + dt.timedelta(days=4),
        **fields,
    }
    return upsert_disputes(session, [observation], "t").dispute_ids[0]
