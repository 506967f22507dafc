"""Case view data: customer details, Visa CE 3.0 eligibility, checklist and accept-or-fight hint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from workstation.db import Database
from workstation.models import Dispute
from workstation.services.disputes.agent_actions import add_note
from workstation.services.disputes.case import case_view
from workstation.services.disputes.ce3 import ce3_eligibility
from workstation.services.disputes.evidence import add_evidence, save_draft
from workstation.services.disputes.intake import upsert_disputes
from workstation.services.imports.file_import import import_file

from .conftest import StoreRows, make_pdf, record

TXN_DAY = dt.date(2025, 6, 30)
ME = {
    "card_fingerprint": "fp_card_777",
    "ip": "203.0.113.7",
    "device_id": "dev-abc",
    "shipping_address": "1 Main St, 10001 Springfield, US",
    "account_id": "acct-42",
    "email": "jane@example.com",
}


def order(line: int, days_before: int, ref: str, **raw: Any) -> dict[str, Any]:
    return record(
        line,
        "order",
        2000,
        day=TXN_DAY - dt.timedelta(days=days_before),
        external_id=ref,
        account="ledger",
        raw={"order_id": ref, **raw},
    )


def history(qualifying: int) -> list[dict[str, Any]]:
    rows = [order(1, 0, "ORD-D", **ME)]  # the disputed order
    good = [
        # IP and shipping address match, device differs.
        order(
            2,
            150,
            "ORD-P1",
            card_fingerprint="fp_card_777",
            ip="203.0.113.7",
            device_id="dev-other",
            shipping_address="1 MAIN ST 10001 Springfield US",
        ),
        # Device and account match.
        order(
            3,
            200,
            "ORD-P2",
            card_fingerprint="fp_card_777",
            ip="198.51.100.1",
            device_id="dev-abc",
            account_id="acct-42",
        ),
    ][:qualifying]
    rows += good
    rows += [
        # Shipping address and account match, but neither IP nor device: does not qualify.
        order(
            4,
            180,
            "ORD-P3",
            card_fingerprint="fp_card_777",
            ip="192.0.2.9",
            shipping_address="1 Main St, 10001 Springfield, US",
            account_id="acct-42",
        ),
        # Outside 120-365 days.
        order(5, 400, "ORD-OLD", **ME),
        order(6, 60, "ORD-NEW", **ME),
        # Another customer with the same IP.
        order(
            7,
            170,
            "ORD-X",
            card_fingerprint="fp_someone_else",
            ip="203.0.113.7",
            device_id="dev-abc",
        ),
    ]
    return rows


def visa_104(psp_id: str, order_ref: str = "ORD-D") -> dict[str, Any]:
    return {
        "psp": "generic",
        "psp_dispute_id": psp_id,
        "network": "visa",
        "reason_code": "10.4",
        "stage": "chargeback",
        "status": "needs_response",
        "amount_minor": 5000,
        "currency": "USD",
        "due_by": dt.datetime.now(dt.UTC) + dt.timedelta(days=5),
        "order_ref": order_ref,
    }


def test_ce3_eligible_with_two_qualifying(db: Database, store_rows: StoreRows) -> None:
    store_rows(db, history(qualifying=2))
    with db.session() as s:
        upsert_disputes(s, [visa_104("CE3-1")], "t")
        d = s.scalar(select(Dispute))
        assert d is not None and d.order_record_id is not None
        result = ce3_eligibility(s, d.id)
    assert result.applicable and result.eligible
    assert result.identity == ("card_fingerprint", "fp_card_777")
    assert result.window == (dt.date(2024, 6, 30), dt.date(2025, 3, 2))
    found = {t.external_id: t for t in result.transactions}
    assert set(found) == {"ORD-P1", "ORD-P2", "ORD-P3"}  # window and same customer only
    assert found["ORD-P1"].matches == {
        "ip": True,
        "device_id": False,
        "shipping_address": True,  # case and punctuation do not matter
        "account_id": False,
    }
    assert found["ORD-P2"].qualifies and not found["ORD-P3"].qualifies
    assert result.qualifying == 2


def test_ce3_not_eligible_and_disputed_priors_excluded(db: Database, store_rows: StoreRows) -> None:
    store_rows(db, history(qualifying=2))
    with db.session() as s:
        # ORD-P2 has its own dispute: no longer an undisputed prior transaction.
        upsert_disputes(s, [visa_104("CE3-1"), visa_104("CE3-OTHER", "ORD-P2")], "t")
        d = s.scalar(select(Dispute).where(Dispute.psp_dispute_id == "CE3-1"))
        assert d is not None
        result = ce3_eligibility(s, d.id)
    assert not result.eligible and result.qualifying == 1
    assert "2 are needed" in result.reasons[0]


def test_ce3_only_for_visa_104(db: Database) -> None:
    with db.session() as s:
        upsert_disputes(s, [{**visa_104("MC-1"), "network": "mc", "reason_code": "4837"}], "t")
        d = s.scalar(select(Dispute))
        assert d is not None
        assert not ce3_eligibility(s, d.id).applicable


def test_case_view_checklist_and_hint(db: Database, store_rows: StoreRows) -> None:
    store_rows(db, history(qualifying=1))
    with db.session() as s:
        upsert_disputes(s, [visa_104("CASE-1")], "t")
        did = s.scalar(select(Dispute.id))
        assert did is not None
        view = case_view(s, did)
        assert view.customer["email"] == "jane@example.com"
        assert view.customer["device_id"] == "dev-abc"
        assert view.order is not None and view.order["external_id"] == "ORD-D"
        assert view.reason is not None and view.reason.title.startswith("Other Fraud")
        assert view.checklist.id == "fraud_card_absent"
        assert view.checklist.required_done == 0 and view.ce3 is not None
        assert not view.ce3.eligible
        assert view.hint.hint == "accept"  # 50.00 at risk, nothing on file, 15.00 fee
        # Evidence and texts tick the checklist and turn the hint.
        add_evidence(s, did, make_pdf(1, "3DS"), "3ds.pdf", kind="authorization_log", actor="t")
        add_evidence(s, did, make_pdf(1, "log"), "log.pdf", kind="access_activity_log", actor="t")
        save_draft(s, did, "product_description", "Blue widget, 2 pcs", "t")
        save_draft(s, did, "rebuttal", "The cardholder authenticated with 3-D Secure.", "t")
        add_note(s, did, "t", "Called the customer, no answer")
        view = case_view(s, did)
    done = {i.id: i.done for i in view.checklist.items}
    assert done == {
        "authentication": True,
        "device_ip": True,
        "delivery": True,  # the access log counts for digital delivery
        "history": False,
        "description": True,
        "rebuttal": True,
    }
    assert view.checklist.coverage == 1.0
    assert view.hint.hint == "fight" and view.hint.likelihood == 0.3
    assert view.hint.gain_minor == 900  # 0.3 * (5000 + 1500) - 0.7 * 1500
    assert view.hint.fee_minor == 1500
    assert [n.text for n in view.notes] == ["Called the customer, no answer"]
    kinds = [t.kind for t in view.timeline]
    assert kinds[0] == "created" and kinds.count("evidence_added") == 2
    assert "Evidence added: 3ds.pdf (authorization_log)" in [t.text for t in view.timeline]


def test_inquiry_hint_and_not_defendable(db: Database, stripe_dispute: Path) -> None:
    with db.session() as s:
        import_file(s, stripe_dispute, actor="t")
        d = s.scalar(select(Dispute))
        assert d is not None
        # Keep the sample's inquiry open whatever today's date.
        d.due_by = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        s.flush()
        view = case_view(s, d.id)
        assert view.stage == "inquiry" and view.hint.fee_minor == 0
        assert view.hint.hint == "gather_evidence"  # worth answering, nothing on file yet
        upsert_disputes(s, [{**visa_104("VFMP-1"), "reason_code": "10.5", "order_ref": None}], "t")
        vfmp = s.scalar(select(Dispute).where(Dispute.psp_dispute_id == "VFMP-1"))
        assert vfmp is not None
        v2 = case_view(s, vfmp.id)
    assert v2.checklist.id == "not_defendable"
    assert v2.hint.hint == "accept" and "not defendable" in " ".join(v2.hint.reasons)
