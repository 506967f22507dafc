"""No full card number anywhere: every write path, then a grep of the database, its WAL and exports.

A corpus of Luhn-valid PANs, each in every spelling (one run, single or double spaces, dots,
dashes), goes in through a CSV import, an MT940 statement, dispute notes and text fields, case
and match notes, text and e-mail evidence and an Excel round trip. Then the raw bytes of the
SQLite file and of its -wal file, and every exported file (package ZIP and PDF, CSV/XLSX table
exports, round-trip workbooks; ZIP/XLSX members unpacked, PDF text extracted) are searched for
any of the PANs in any spelling. The masker and the vectorised pre-filter of the import are
checked against the same corpus.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import random
import re
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from dispute_cases import open_case
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from workstation.cli import main
from workstation.db import Database
from workstation.models import CaseNote, Dispute, ExceptionCase, Record
from workstation.services.common.card_numbers import mask_series, mask_text, may_hold_pan
from workstation.services.disputes.evidence import save_draft
from workstation.services.reconcile import cases, clerk_actions

PANS = (
    "4111111111111111",  # Visa 16
    "5555555555554444",  # Mastercard
    "378282246310005",  # Amex 15
    "6011000990139424",  # Discover
    "4222222222222",  # Visa 13
    "6304000000000000018",  # 19 digits
)
CASE = "PAN-CASE-1"


def _groups(pan: str) -> list[str]:
    if len(pan) == 15:
        return [pan[:4], pan[4:10], pan[10:]]
    if len(pan) == 13:
        return [pan[:4], pan[4:7], pan[7:10], pan[10:]]
    return [pan[i : i + 4] for i in range(0, len(pan), 4)]


def spellings(pan: str) -> list[str]:
    g = _groups(pan)
    return [pan, " ".join(g), "  ".join(g), ".".join(g), "-".join(g)]


CORPUS = [s for pan in PANS for s in spellings(pan)]
_FULL = [re.compile(rb"[ .\-]{0,3}".join(re.escape(d.encode()) for d in pan)) for pan in PANS]


def full_pans(data: bytes) -> list[str]:
    """The PANs of the corpus found in `data`, in any spelling."""
    return [pan for pan, rx in zip(PANS, _FULL, strict=True) if rx.search(data)]


def _file_texts(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The file and everything readable inside it: ZIP/XLSX members, PDF text, e-mail parts."""
    out = [(name, data)]
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                out += _file_texts(f"{name}!{member}", zf.read(member))
    elif data.startswith(b"%PDF-"):
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        assert text.strip(), f"{name}: no text extracted, the check would be blind"
        out.append((f"{name} (text)", text.encode()))
    elif name.endswith(".eml"):
        msg = email.message_from_bytes(data, policy=email.policy.default)
        for i, part in enumerate(msg.walk()):
            if not part.is_multipart():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    out.append((f"{name} part {i}", payload))
    return out


# ----------------------------------------------------------------------------- the masker


def test_masker_masks_every_spelling_and_keeps_six_and_four() -> None:
    for pan in PANS:
        for spelled in spellings(pan):
            masked, n = mask_text(f"paid with {spelled}, thanks")
            assert n == 1, spelled
            assert masked == f"paid with {pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}, thanks"
            assert not full_pans(masked.encode())


def test_masker_leaves_dates_amounts_and_references() -> None:
    for text in (
        "2024-01-15 2024-01-16 100.00 1.234.567,89",
        "iban DE89370400440532013000",
        "ref 0000000000000000",  # no card starts with 0
        "41111111111111110",  # 17 digits, not Luhn-valid
        "order 1234-5678 on 12.03.2024 at 10.15",
    ):
        assert mask_text(text) == (text, 0)
    assert mask_text("psp 4111111111111111", frozenset({"4111111111111111"}))[1] == 0


def test_vectorised_prefilter_and_series_agree_with_the_masker() -> None:
    texts = [f"card {s} end" for s in CORPUS] + [
        "no card here",
        "2024-01-15 100.00",
        None,
        "amount 1.234.567,89",
    ]
    arr = pa.array(texts, type=pa.string())
    hinted = may_hold_pan(arr).to_pylist()
    for text, hint in zip(texts, hinted, strict=True):
        if text is not None and mask_text(text)[1]:
            assert hint, f"the pre-filter misses {text!r}"
    masked, n = mask_series(pd.Series(texts))
    assert n == len(CORPUS)
    assert [m for m in masked if isinstance(m, str) and full_pans(m.encode())] == []


def test_prefilter_never_skips_a_row_the_masker_would_change() -> None:
    rng = random.Random(7)
    texts = []
    for _ in range(20_000):
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19))))
            parts.append(rng.choice([" ", "  ", ".", "-", "--", " - ", "/", "x", ", "]))
        texts.append("".join(parts))
    texts += [f"{rng.choice(PANS)}" for _ in range(50)] + CORPUS
    hinted = may_hold_pan(pa.array(texts, type=pa.string())).to_pylist()
    changed = [t for t in texts if mask_text(t)[1]]
    assert len(changed) > 200  # the random corpus does hold card-number-like runs
    assert [t for t, h in zip(texts, hinted, strict=True) if not h and mask_text(t)[1]] == []


# ----------------------------------------------------------------------------- every write path


def _mt940(pans: list[str]) -> str:
    lines = [":20:STARTUMSE", ":25:12345678/1020304050", ":28C:00001/001", ":60F:C240701EUR0,00"]
    total = 0
    for i, spelled in enumerate(pans):
        cents = 1000 + i
        total += cents
        lines.append(f":61:2407010701CR{cents // 100},{cents % 100:02d}NTRFNONREF")
        lines.append(f":86:Card payment {spelled} ok")
    lines += [f":62F:C240701EUR{total // 100},{total % 100:02d}", "-"]
    return "\r\n".join(lines) + "\r\n"


def _eml(pans: list[str]) -> bytes:
    body = "\n".join(f"my card is {s}" for s in pans)
    encoded = base64.encodebytes(body.encode()).decode()
    return (
        "From: Jane Doe <jane@example.com>\r\nTo: support@shop.example\r\n"
        "Subject: my order\r\nDate: Mon, 1 Jul 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="card.txt"\r\n\r\n'
        f"{encoded}\r\n--b1--\r\n"
    ).encode()


_PRINTED: list[str] = []


def _cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> str:
    code = main(["--db", url, *args])
    out = capsys.readouterr()
    assert code == 0, (args, out.err)
    _PRINTED.append(out.out + out.err)
    return out.out


def _fill_notes(path: Path, notes: list[str]) -> int:
    wb = load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    header = [c.value for c in ws[1]]
    ncol = header.index("note") + 1
    rows = [r[0].row for r in ws.iter_rows(min_row=2) if r[0].value is not None]
    for row, note in zip(rows, notes, strict=False):
        ws.cell(row, ncol, f"customer said {note}")
    wb.save(path)
    return min(len(rows), len(notes))


@pytest.mark.slow
def test_no_full_pan_at_rest_or_in_any_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _PRINTED.clear()
    db_path = tmp_path / "store.db"
    url = f"sqlite:///{db_path}"
    _cli(capsys, url, "init")
    # Held open to the end so the -wal file stays (the last connection to close checkpoints it).
    keeper = sqlite3.connect(db_path)
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()

    inputs = tmp_path / "in"
    inputs.mkdir()
    orders = inputs / "orders.csv"
    orders.write_text(
        "Order ID,Date,Total,Currency,Description\n"
        + "".join(
            f"ORD-{i},2024-07-01,{10 + i}.00,EUR,paid by card {s}\n" for i, s in enumerate(CORPUS)
        ),
        encoding="utf-8",
    )
    statement = inputs / "statement.sta"
    statement.write_text(_mt940(CORPUS), encoding="utf-8", newline="")
    notes = inputs / "notes.txt"
    notes.write_text("".join(f"The customer read out {s}.\n" for s in CORPUS), encoding="utf-8")
    mail = inputs / "mail.eml"
    mail.write_bytes(_eml(CORPUS))
    for f in (orders, statement, notes, mail):  # the search does see them before masking
        assert full_pans(f.read_bytes()) == list(PANS), f

    _cli(capsys, url, "import", str(orders), str(statement))
    _cli(capsys, url, "reconcile")  # opens exception cases for the lines left over
    db = Database(url)
    with db.session() as s:
        open_case(s, CASE)
    for spelled in CORPUS:
        _cli(capsys, url, "dispute", "note", CASE, f"card {spelled}")
    _cli(capsys, url, "evidence", "add", CASE, str(notes), "--kind", "customer_communication")
    _cli(capsys, url, "evidence", "add", CASE, str(mail), "--kind", "customer_communication")
    with db.session() as s:
        did = s.scalars(select(Dispute.id)).one()
        for field in ("rebuttal", "product_description", "communication_summary"):
            save_draft(s, did, field, "Paid with " + "; ".join(CORPUS), "t")
        case_ids = list(s.scalars(select(ExceptionCase.id).order_by(ExceptionCase.id)))
        assert len(case_ids) >= len(CORPUS)
        for case_id, spelled in zip(case_ids, CORPUS, strict=False):
            cases.add_note(s, case_id, f"called about {spelled}", actor="t")
        record_ids = list(s.scalars(select(Record.id).order_by(Record.id)))
    with db.session() as s:
        a = clerk_actions.manual_match(s, record_ids[:2], actor="t", note=f"card {CORPUS[1]}")
        clerk_actions.unmatch(s, a.match_id, actor="t", note=f"wrong, card {CORPUS[3]}")
        b = clerk_actions.manual_match(s, record_ids[2:4], actor="t", note=f"card {CORPUS[7]}")
        assert b.match_id
    with db.session() as s:
        stored = [n.text for n in s.scalars(select(CaseNote))]
        assert len(stored) >= len(CORPUS) and all(
            re.search(r"[0-9]{6}[*]{3,9}[0-9]{4}", n) for n in stored
        )

    out = tmp_path / "out"
    out.mkdir()
    exports = [out / "package.zip"]
    _cli(capsys, url, "dispute", "package", CASE, "--out", str(exports[0]))
    for what in ("matches", "unmatched", "disputes"):
        for ext in ("csv", "xlsx"):
            exports.append(out / f"{what}.{ext}")
            _cli(capsys, url, "export", what, "--out", str(exports[-1]))
    for queue in ("exceptions", "disputes"):
        book = out / f"roundtrip_{queue}.xlsx"
        _cli(capsys, url, "export", "roundtrip", "--queue", queue, "--out", str(book))
        assert _fill_notes(book, CORPUS) >= 1
        applied = json.loads(_cli(capsys, url, "roundtrip", "apply", str(book), "--json"))
        assert len(applied["applied"]["applied"]) >= 1, applied
        exports.append(out / f"roundtrip_{queue}_after.xlsx")
        _cli(capsys, url, "export", "roundtrip", "--queue", queue, "--out", str(exports[-1]))

    _cli(capsys, url, "dispute", "show", CASE, "--json")
    _cli(capsys, url, "dispute", "list")
    printed = [p for p in _PRINTED if full_pans(p.encode())]
    assert printed == []  # nor on the terminal
    wal = Path(f"{db_path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    found = {}
    for path in (db_path, wal):
        found[path.name] = full_pans(path.read_bytes())
    members = 0
    for path in exports:
        for name, data in _file_texts(path.name, path.read_bytes()):
            members += 1
            found[name] = full_pans(data)
    keeper.close()
    db.dispose()
    assert {k: v for k, v in found.items() if v} == {}
    assert members > len(exports)  # the members and PDF texts were searched too
    # What the masker left is there: first 6 and last 4 of each card.
    package = zipfile.ZipFile(exports[0])
    pdf_name = next(n for n in package.namelist() if n.endswith(".pdf"))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(package.read(pdf_name))).pages)
    assert "411111******1111" in text


def test_package_masks_text_evidence_stored_before_masking(tmp_path: Path) -> None:
    """A text item stored raw (by an older version) still leaves the package masked."""
    import hashlib

    from workstation.models import Evidence, EvidenceBlob
    from workstation.services.disputes.package import export_package

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    assert main(["--db", url, "init"]) == 0
    db = Database(url)
    raw = ("Card numbers: " + ", ".join(CORPUS) + "\n").encode()
    with db.session() as s:
        did = open_case(s, CASE)
        sha = hashlib.sha256(raw).hexdigest()
        s.add(EvidenceBlob(sha256=sha, size=len(raw), content=raw))
        s.add(
            Evidence(
                dispute_id=did,
                kind="customer_communication",
                file_name="old.txt",
                media_type="text/plain",
                size=len(raw),
                sha256=sha,
                added_by="t",
            )
        )
    out = tmp_path / "legacy.zip"
    with db.session() as s:
        export_package(s, did, out, actor="t", force=True)
    db.dispose()
    leaks = {n: p for n, d in _file_texts(out.name, out.read_bytes()) if (p := full_pans(d))}
    assert leaks == {}


def test_unlock_reason_is_masked(db: Database) -> None:
    from workstation.models import AuditEvent, DisputeEvent
    from workstation.services.common.users import ensure_user
    from workstation.services.disputes.package import mark_submitted, unlock_evidence

    with db.session() as s:
        ensure_user(s, "boss", role="admin")
        did = open_case(s, CASE)
        did = did
        mark_submitted(s, did, "boss")
        unlock_evidence(s, did, "boss", f"pre-arbitration, card {CORPUS[2]}")
    with db.session() as s:
        event = s.scalars(select(DisputeEvent).where(DisputeEvent.kind == "unlocked")).one()
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "unlock_evidence")).one()
        for detail in (event.detail, audit.detail):
            assert detail["reason"] == "pre-arbitration, card 411111******1111"
