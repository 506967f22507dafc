"""A case's money trail: the linked lines, and what was withdrawn, charged, reinstated, netted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeLink, Record, Source
from ...money import format_minor


@dataclass
class TrailLine:
    """One record of a case's money trail."""

    record_id: int
    role: str
    booked_on: dt.date
    amount_minor: int
    fee_minor: int | None
    currency: str
    source: str
    source_kind: str
    kind: str
    external_id: str | None
    description: str | None
    counted: bool = True  # False: other currency, or a bank echo of a PSP line


@dataclass
class MoneyTrail:
    """Disputed, withdrawn, fees, reinstated and net outcome in the case's currency (minor units).

    Signs follow the records: money out is negative. `fees_minor` is the fee lines' amounts plus
    the fees carried on withdrawal/reinstatement lines (Stripe's dispute fee and its refund).
    Bank lines naming the dispute count only for a role no PSP line covers (otherwise they echo
    the PSP's own debit); lines in another currency are listed but not summed.
    """

    dispute_id: int
    currency: str
    disputed_minor: int
    charge_minor: int | None
    withdrawn_minor: int
    fees_minor: int
    reinstated_minor: int
    refunded_minor: int
    net_minor: int
    lines: list[TrailLine]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: `disputed 10.00, withdrawn -10.00, fees -15.00, ...: net -15.00 USD`."""
        c = self.currency
        return (
            f"disputed {format_minor(self.disputed_minor, c)}, "
            f"withdrawn {format_minor(self.withdrawn_minor, c)}, "
            f"fees {format_minor(self.fees_minor, c)}, "
            f"reinstated {format_minor(self.reinstated_minor, c)}: "
            f"net {format_minor(self.net_minor, c)} {c}"
        )


def money_trail(session: Session, dispute_id: int) -> MoneyTrail:
    """The case's money trail from its links (exact minor units)."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    rows = session.execute(
        select(DisputeLink.role, Record, Source.name, Source.kind)
        .join(Record, Record.id == DisputeLink.record_id)
        .join(Source, Source.id == Record.source_id)
        .where(DisputeLink.dispute_id == dispute_id)
        .order_by(Record.booked_on, Record.id)
    ).all()
    lines = [
        TrailLine(
            record_id=rec.id,
            role=role,
            booked_on=rec.booked_on,
            amount_minor=rec.amount_minor,
            fee_minor=rec.fee_minor,
            currency=rec.currency,
            source=sname,
            source_kind=skind,
            kind=rec.kind,
            external_id=rec.external_id,
            description=rec.description,
        )
        for role, rec, sname, skind in rows
    ]
    warnings: list[str] = []
    psp_roles = {ln.role for ln in lines if ln.source_kind != "bank"}
    for ln in lines:
        if ln.currency != d.currency:
            ln.counted = False
            warnings.append(
                f"line {ln.external_id or ln.record_id} is in {ln.currency}, not {d.currency}; "
                "not summed"
            )
        elif ln.source_kind == "bank" and ln.role in psp_roles:
            ln.counted = False

    def total(role: str) -> int:
        return sum(ln.amount_minor for ln in lines if ln.counted and ln.role == role)

    carried_fees = sum(
        ln.fee_minor or 0 for ln in lines if ln.counted and ln.role in ("withdrawn", "reinstated")
    )
    charge = next((ln for ln in lines if ln.role == "charge"), None)
    withdrawn = total("withdrawn")
    reinstated = total("reinstated")
    fees = total("fee") - carried_fees
    refunded = total("refund")
    if refunded and withdrawn:
        warnings.append("the charge was refunded and also charged back: money lost twice")
    return MoneyTrail(
        dispute_id=d.id,
        currency=d.currency,
        disputed_minor=d.amount_minor,
        charge_minor=charge.amount_minor if charge else None,
        withdrawn_minor=withdrawn,
        fees_minor=fees,
        reinstated_minor=reinstated,
        refunded_minor=refunded,
        net_minor=withdrawn + reinstated + fees,
        lines=lines,
        warnings=warnings,
    )
