"""Hostile evidence made in the test is refused by the service and the CLI; nothing is stored."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from dispute_cases import open_case
from sqlalchemy import func, select

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import DisputeEvent, Evidence, EvidenceBlob
from workstation.services.disputes.evidence import add_evidence, add_evidence_file

CASE = "HOSTILE-1"


def _pdf(text: str = "Receipt") -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["login_at", "ip"])
    ws.append(["2024-07-01 10:00", "203.0.113.7"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring width x height 1-bit pixels with a few bytes of data: cheap to make."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _small_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def _huge_jpeg() -> bytes:
    """A real small JPEG whose frame header is patched to say 30000 x 30000."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    return bytes(data)


def _windows_program() -> bytes:
    """A DOS header whose e_lfanew points at a PE signature (the start of any EXE/DLL)."""
    dos = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x00" * 2)
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = bytes(dos) + b"\x00" * (0x80 - len(dos))
    return stub + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


def _linux_program() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200


def _zip_bomb(unpacked_mb: int) -> bytes:
    """A real workbook plus one part of zeros that unpacks to `unpacked_mb` MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsx())) as src, zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("xl/media/padding.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=True) as member:  # streamed, never held in memory
            chunk = b"\x00" * 2**20
            for _ in range(unpacked_mb):
                member.write(chunk)
    return buf.getvalue()


def _xlsx_with_member(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsx())) as src, zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
        out.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _pdf_with(add: Callable[[object], None]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_pdf())))
    add(writer)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _add_js(writer: object) -> None:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert(1);"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = action  # type: ignore[attr-defined]


HOSTILE: dict[str, tuple[str, Callable[[], bytes], str]] = {
    # id: (file name, bytes, words the refusal must contain)
    "mz_with_pdf": ("invoice.pdf", lambda: _windows_program() + _pdf(), "windows program"),
    "pdf_behind_text": ("invoice.pdf", lambda: b"hello\n" + _pdf(), "pdf behind 6 bytes"),
    "pdf_plus_elf": ("receipt.pdf", lambda: _pdf() + _linux_program(), "linux program (elf)"),
    "pdf_plus_exe": ("receipt.pdf", lambda: _pdf() + _windows_program(), "windows program"),
    "pdf_javascript": (
        "receipt.pdf",
        lambda: _pdf().replace(
            b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"
        ),
        "javascript",
    ),
    "pdf_attachment": (
        "receipt.pdf",
        lambda: _pdf_with(lambda w: w.add_attachment("run.sh", b"echo hi")),  # type: ignore[attr-defined]
        "attached files",
    ),
    "pdf_add_js": (
        "receipt.pdf",
        lambda: _pdf_with(_add_js),
        "javascript",
    ),
    "png_plus_elf": ("photo.png", lambda: _small_png() + _linux_program(), "linux program"),
    "png_30000x30000": ("big.png", lambda: _png_header_only(30000, 30000), "30000x30000 pixels"),
    "png_10000x10000": ("big.png", lambda: _png_header_only(10000, 10000), "10000x10000 pixels"),
    "jpeg_30000x30000": ("big.jpg", _huge_jpeg, "too large to open"),
    "xlsx_bomb_150mb": ("access.xlsx", lambda: _zip_bomb(150), "unpacks to"),
    "xlsx_ratio_bomb": ("access.xlsx", lambda: _zip_bomb(20), "times its size"),
    "xlsx_with_elf": (
        "access.xlsx",
        lambda: _xlsx_with_member("xl/media/image1.png", _linux_program()),
        "linux program",
    ),
    "xlsx_with_exe_part": (
        "access.xlsx",
        lambda: _xlsx_with_member("xl/embeddings/tool.exe", b"hello"),
        "tool.exe",
    ),
    "shell_script": ("notes.txt", lambda: b"#!/bin/sh\nrm -rf ~\n", "script"),
}


def _case(db: Database) -> int:
    with db.session() as s:
        return open_case(s, CASE)


def _stored(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Evidence)) or 0,
            s.scalar(select(func.count()).select_from(EvidenceBlob)) or 0,
            s.scalar(
                select(func.count())
                .select_from(DisputeEvent)
                .where(DisputeEvent.kind == "evidence_added")
            )
            or 0,
        )


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_refused_by_service_and_cli(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, make, words = HOSTILE[case]
    data = make()
    assert len(data) < 5 * 2**20  # small on disk: the danger is in what it unpacks to
    url = f"sqlite:///{tmp_path / 'ev.db'}"
    assert main(["--db", url, "init"]) == 0
    db = Database(url)
    did = _case(db)
    capsys.readouterr()

    with db.session() as s, pytest.raises(UserError) as err:
        add_evidence(s, did, data, name, actor="t")
    message = str(err.value)
    assert name in message and words in message.lower(), message
    path = tmp_path / name
    path.write_bytes(data)
    with db.session() as s, pytest.raises(UserError, match=name.replace(".", r"\.")):
        add_evidence_file(s, did, path, actor="t")
    assert _stored(db) == (0, 0, 0)

    code = main(["--db", url, "evidence", "add", CASE, str(path), "--kind", "receipt"])
    out = capsys.readouterr()
    assert code == 1, out.out
    assert out.err.startswith(f"error: {name}") and words in out.err.lower(), out.err
    assert "Traceback" not in out.err
    assert _stored(db) == (0, 0, 0)
    db.dispose()


def test_plain_files_next_to_the_hostile_ones_are_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    assert main(["--db", url, "init"]) == 0
    db = Database(url)
    did = _case(db)
    with db.session() as s:
        for name, data in (
            ("receipt.pdf", _pdf()),
            ("photo.png", _small_png()),
            ("access.xlsx", _xlsx()),
        ):
            add_evidence(s, did, data, name, actor="t")
    assert _stored(db) == (3, 3, 3)


def test_pdf_catalog_checked_even_when_the_markers_are_compressed() -> None:
    """Scripts declared in compressed object streams are not visible in the raw bytes."""
    from pypdf import PdfReader

    from workstation.services.disputes.evidence_safety import check_pdf_catalog

    js = PdfReader(io.BytesIO(_pdf_with(_add_js)))
    with pytest.raises(UserError, match=r"x\.pdf: the PDF contains JavaScript"):
        check_pdf_catalog(js.trailer["/Root"], "x.pdf")
    plain = PdfReader(io.BytesIO(_pdf()))
    check_pdf_catalog(plain.trailer["/Root"], "x.pdf")
