"""Demo generator: determinism, money invariants, ground truth, storage and the `demo` command."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Dispute, DisputeEvent, DisputeLink, ImportBatch, Record, Source
from workstation.money import to_minor
from workstation.paths import resources_dir
from workstation.services.common.card_numbers import luhn_ok
from workstation.services.demo import merchant_month
from workstation.services.demo.merchant_month import (
    DemoData,
    build_demo,
    load_demo,
    stripe_payout_report,
)
from workstation.services.demo.psp_lines import STRIPE_REPORT_COLUMNS
from workstation.services.disputes.reason_codes import normalise_category

PSPS = ("stripe", "adyen")
MONEY = ("amount_minor", "fee_minor", "net_minor", "orig_amount_minor")


@pytest.fixture(scope="module")
def month() -> DemoData:
    return build_demo(3000, seed=11)


def _order_key(value: str) -> str:
    """How a careful matcher reads an order id: case, punctuation and leading zeros ignored."""
    m = re.fullmatch(r"([A-Z]+)0*([0-9]+)", re.sub(r"[^0-9A-Za-z]", "", value).upper())
    assert m, value
    return m.group(1) + m.group(2)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = build_demo(300, seed=5), build_demo(300, seed=5), build_demo(300, seed=6)
    for ra, rb in zip(a.results, b.results, strict=True):
        assert ra.accounts == rb.accounts
        pd.testing.assert_frame_equal(ra.records, rb.records)
    pd.testing.assert_frame_equal(a.truth.order_links, b.truth.order_links)
    pd.testing.assert_frame_equal(a.truth.payout_links, b.truth.payout_links)
    assert a.disputes == b.disputes
    assert (
        not a.result("stripe")
        .records["external_id"]
        .equals(c.result("stripe").records["external_id"])
    )


def test_money_is_integer_minor_units(month: DemoData) -> None:
    for result in month.results:
        df = result.records
        assert df["amount_minor"].dtype == "int64"
        for col in MONEY:
            values = df[col].dropna()
            assert df[col].dtype == "int64" or all(type(v) is int for v in values), col
    for psp in PSPS:
        df = month.result(psp).records
        assert df["fee_minor"].dtype == "int64" and df["net_minor"].dtype == "int64"
        assert (df["net_minor"] == df["amount_minor"] - df["fee_minor"]).all()
        assert (df["fee_minor"] >= 0).all()
    shop = month.result("shop").records
    assert (shop["amount_minor"] > 0).all()
    assert (shop["currency"] == "EUR").mean() > 0.95


def test_payouts_and_bank_credits_add_up_exactly(month: DemoData) -> None:
    bank = month.result("bank").records.set_index("external_id")
    links = month.truth.payout_links.set_index("payout_ref")["bank_id"]
    assert links.is_unique and bank.index.is_unique
    seen = 0
    for psp in PSPS:
        df = month.result(psp).records
        payouts = df[df["kind"] == "payout"].set_index("external_id")
        lines = df[df["kind"] != "payout"]
        assert lines["payout_ref"].notna().all()
        nets = lines.groupby("payout_ref")["net_minor"].sum()
        assert set(nets.index) == set(payouts.index)
        assert (payouts.loc[nets.index, "amount_minor"] == -nets).all()
        assert (payouts["payout_ref"] == payouts.index).all()
        credits = bank.loc[links.loc[nets.index].to_numpy(), "amount_minor"].to_numpy()
        assert (credits == nets.to_numpy()).all()
        # booked the day after the payout
        bank_days = bank.loc[links.loc[nets.index].to_numpy(), "booked_on"].to_numpy()
        pay_days = payouts.loc[nets.index, "booked_on"].to_numpy()
        assert all(b - p == dt.timedelta(days=1) for b, p in zip(bank_days, pay_days, strict=True))
        seen += len(payouts)
    assert len(links) == seen
    unrelated = bank[~bank.index.isin(links.to_numpy())]
    assert 0.08 <= len(unrelated) / len(bank) <= 0.22
    assert (unrelated["kind"] == "bank_debit").mean() > 0.7
    related = bank[bank.index.isin(links.to_numpy())]
    plain = related["description"] == "SEPA CREDIT TRANSFER"
    assert plain.mean() < 0.15
    payout_of = pd.Series(links.index, index=links.to_numpy())
    helpful = related[~plain]
    named = helpful["description"].str.extract(r"(po_\w+|batch-\d+)$")[0]
    assert (named == payout_of.loc[helpful.index]).all()


def test_order_links_cover_every_charge(month: DemoData) -> None:
    orders = month.result("shop").records
    links = month.truth.order_links
    charges = pd.concat(
        [month.result(p).records.query("kind == 'charge'") for p in PSPS], ignore_index=True
    )
    assert len(links) == len(charges)
    assert links["psp_id"].is_unique and links["order_id"].is_unique
    assert set(links["psp_id"]) == set(charges["external_id"])
    assert set(links["order_id"]) <= set(orders["external_id"])
    unpaid = set(orders["external_id"]) - set(links["order_id"])
    assert 1 <= len(unpaid) <= 0.01 * len(orders)
    # wherever the PSP has an order reference, it names the linked order (up to spelling)
    merged = charges.merge(links, left_on="external_id", right_on="psp_id")
    with_ref = merged[merged["ref_order"].notna()]
    assert (with_ref["ref_order"].map(_order_key) == with_ref["order_id"].map(_order_key)).all()
    # Adyen references are 16 digits and never pass the card-number check
    adyen = month.result("adyen").records
    assert adyen.loc[adyen["kind"] == "charge", "external_id"].str.fullmatch(r"[0-9]{16}").all()
    assert not any(luhn_ok(v) for v in adyen["external_id"] if v.isdigit())


def test_share_of_unreferenced_and_respelled_order_ids() -> None:
    data = build_demo(20000, seed=3)
    for psp in PSPS:
        charges = data.result(psp).records.query("kind == 'charge'")
        ref = charges["ref_order"]
        exact = ref.str.fullmatch(r"ORD-[1-9][0-9]{6}", na=False)
        missing = ref.isna()
        respelled = ~exact & ~missing
        assert 0.91 <= exact.mean() <= 0.95, psp
        assert 0.02 <= respelled.mean() <= 0.04, psp
        assert 0.03 <= missing.mean() <= 0.05, psp
        shapes = ref[respelled]
        assert shapes.str.startswith("ord-").any() and shapes.str.startswith("ORD-0").any()
        assert shapes.str.fullmatch(r"ORD[0-9]+").any()
    stripe = data.result("stripe").records
    assert 0.55 <= len(stripe.query("kind == 'charge'")) / 20000 <= 0.65
    refunds = sum(len(data.result(p).records.query("kind == 'refund'")) for p in PSPS)
    assert 0.01 <= refunds / 20000 <= 0.03


def test_disputes_use_real_reason_codes(month: DemoData) -> None:
    with (resources_dir() / "reason_codes.csv").open(encoding="utf-8") as fh:
        table = {(r["network"], r["code"]): r["category"] for r in csv.DictReader(fh)}
    assert month.disputes
    today = dt.datetime.combine(month.today, dt.time(), dt.UTC)
    statuses = set()
    for d in month.disputes:
        assert (d["network"], d["reason_code"]) in table
        assert d["reason_category"] == normalise_category(table[(d["network"], d["reason_code"])])
        assert d["amount_minor"] > 0 and d["currency"] == "EUR"
        assert d["psp_dispute_id"].startswith("dp_") if d["psp"] == "stripe" else True
        if d["status"] == "needs_response":
            assert today < d["due_by"] <= today + dt.timedelta(days=21)
        roles = {link["role"] for link in d["links"]}
        assert {"charge", "order"} <= roles
        assert ("withdrawn" in roles) == (d["stage"] != "inquiry")
        assert ("reinstated" in roles) == (d["status"] == "won" and d["stage"] != "inquiry")
        statuses.add(d["status"])
    assert {"needs_response", "won", "lost"} <= statuses
    # the money trail is in the PSP reports: withdrawal of the amount and a 15.00 fee
    lines = pd.concat([month.result(p).records for p in PSPS]).set_index("external_id")
    for d in month.disputes:
        for link in d["links"]:
            if link["role"] == "withdrawn":
                assert lines.loc[link["external_id"], "amount_minor"] == -d["amount_minor"]
            if link["role"] == "fee":
                assert lines.loc[link["external_id"], "amount_minor"] == -1500


def test_stripe_report_columns_and_major_units(month: DemoData) -> None:
    table = stripe_payout_report(month)
    assert tuple(table.column_names) == STRIPE_REPORT_COLUMNS
    stripe = month.result("stripe").records
    lines = stripe[stripe["kind"] != "payout"]
    assert table.num_rows == len(lines)
    report = table.to_pandas()
    gross = [to_minor(Decimal(v), "EUR") for v in report["gross"]]
    assert gross == lines["amount_minor"].tolist()
    assert report["net"].str.fullmatch(r"-?[0-9]+\.[0-9]{2}").all()
    assert (report["automatic_payout_id"] == lines["payout_ref"].to_numpy()).all()
    assert report["created_utc"].str.fullmatch(r"2026-1[01]-[0-9]{2} [0-9:]{8}").all()


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        rows = s.execute(
            select(Source.name, func.count(Record.id)).join(Record).group_by(Source.name)
        )
        return {name: int(n) for name, n in rows}


def test_load_demo_stores_every_source_and_the_disputes(db: Database) -> None:
    data = build_demo(300, seed=7)
    seen: list[tuple[int, int, str]] = []
    with db.session() as s:
        summary = load_demo(
            s, orders=300, seed=7, actor="tester", progress=lambda *a: seen.append(a)
        )
    expected = {r.accounts[k].name: len(r.records) for r in data.results for k in r.accounts}
    assert summary.records == expected
    assert _counts(db) == expected
    assert summary.disputes == len(data.disputes) >= 3
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == "Done"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Dispute)) == len(data.disputes)
        created = s.scalar(
            select(func.count()).select_from(DisputeEvent).where(DisputeEvent.kind == "created")
        )
        assert created == len(data.disputes)
        assert s.scalar(select(func.count()).where(Dispute.charge_record_id.is_(None))) == 0
        charge_links = s.scalar(
            select(func.count()).select_from(DisputeLink).where(DisputeLink.role == "charge")
        )
        assert charge_links == len(data.disputes)
        assert sum(s.scalars(select(ImportBatch.masked_pans))) == 0
        one = s.scalars(select(Dispute).order_by(Dispute.id)).first()
        assert one is not None and one.customer and "device_id" in one.customer
        order = s.get(Record, one.order_record_id)
        assert order is not None and order.external_id == one.order_ref
        assert {"ip", "device_id", "shipping_address", "account_id"} <= set(order.raw or {})
    with db.session() as s, pytest.raises(UserError, match="already has records"):
        load_demo(s, orders=300, seed=7)
    with db.session() as s:  # the same month again adds nothing
        again = load_demo(s, orders=300, seed=7, force=True)
    assert sum(again.records.values()) == 0 and again.disputes == 0
    assert _counts(db) == expected


def test_big_loads_rebuild_the_indexes_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    def indexes() -> set[str]:
        with db.session() as s:
            rows = s.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name IN ('records', 'record_references') AND sql IS NOT NULL"
                )
            )
            return {name for (name,) in rows}

    before = indexes()
    assert before
    monkeypatch.setattr(merchant_month, "DEFER_INDEXES_AT", 1)
    steps: list[str] = []
    with db.session() as s:
        load_demo(s, orders=120, seed=1, progress=lambda d, t, text: steps.append(text))
    assert "Building indexes" in steps
    assert indexes() == before
    with db.session() as s:  # and they are used: a reference lookup finds the order
        value = s.scalar(text("SELECT value FROM record_references WHERE value = 'ORD1000001'"))
    assert value == "ORD1000001"


@pytest.mark.postgres
def test_load_demo_on_postgresql(pg_db: Database) -> None:
    with pg_db.session() as s:
        summary = load_demo(s, orders=200, seed=2)
    assert _counts(pg_db) == summary.records
    with pg_db.session() as s:
        n = s.scalar(select(func.count()).select_from(Dispute))
        linked = s.scalar(select(func.count()).select_from(DisputeLink))
    assert n == summary.disputes > 0 and linked >= 2 * n


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--db", url, "demo", "--orders", "250", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["orders"] == 250
    assert set(out["records"]) == {"Shop orders", "Stripe EUR", "Adyen EUR", "Main bank EUR"}
    assert out["records"]["Shop orders"] == 250
    assert out["disputes"] > 0 and len(out["batches"]) == 4
    assert out["kinds"]["order"] == 250 and out["kinds"]["payout"] > 0

    assert main(["--db", url, "demo", "--orders", "250"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--force" in err

    assert main(["--db", url, "demo", "--orders", "100", "--seed", "9", "--force"]) == 0
    text = capsys.readouterr().out
    assert "Shop orders: 100 records" in text
    assert main(["--db", url, "demo", "--orders", "0", "--force"]) == 1
    assert "--orders" in capsys.readouterr().err
