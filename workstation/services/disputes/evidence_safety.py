"""Whole-file checks of evidence: no program hidden inside, archives and images of bounded size.

`detect` in `evidence_content` tells a file's type from its first bytes; a file can still carry
a second one (a PDF with a Linux program appended, a PNG with a Windows program after its end
chunk) or unpack to far more than it weighs (a ZIP bomb dressed as a workbook, a PNG declaring
30000x30000 pixels). These checks read the whole file and refuse with a reason naming it.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

from ...errors import UserError

MAX_UNZIPPED = 64 * 2**20  # an XLSX's members in all, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed / compressed, over the whole archive
MAX_ZIP_MEMBERS = 5_000
MAX_PIXELS = 40_000_000
_CHUNK = 1 << 20
_MACHO = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce")
_SCRIPT = re.compile(rb"#!\s?/(?:usr/|bin/|sbin/|usr/local/)[a-z]")
_PDF_ACTIVE = (
    (b"/JavaScript", "JavaScript"),
    (b"/JS", "JavaScript"),
    (b"/Launch", "an action that starts a program"),
    (b"/EmbeddedFile", "attached files"),
    (b"/RichMedia", "embedded media (Flash)"),
)


def _pe_at(data: bytes, at: int) -> bool:
    """A DOS header at `at` whose e_lfanew points at a PE signature: a Windows program."""
    if len(data) < at + 0x40:
        return False
    (lfanew,) = struct.unpack_from("<I", data, at + 0x3C)
    return 0x40 <= lfanew <= 0x10000 and data[at + lfanew : at + lfanew + 4] == b"PE\0\0"


def _elf_at(data: bytes, at: int) -> bool:
    head = data[at + 4 : at + 7]
    return len(head) == 3 and head[0] in (1, 2) and head[1] in (1, 2) and head[2] == 1


def _macho_at(data: bytes, at: int) -> bool:
    magic = data[at : at + 4]
    if len(data) < at + 16:
        return False
    order = "<" if magic[0] in (0xCE, 0xCF) else ">"
    cputype, _, filetype = struct.unpack_from(order + "iII", data, at + 4)
    return cputype in (7, 12, 18, 0x01000007, 0x0100000C, 0x01000012) and 1 <= filetype <= 12


def _find_all(data: bytes, needle: bytes, start: int = 0) -> Iterator[int]:
    """Every offset of `needle` (no cap: padding with decoys must not hide the real one)."""
    at = data.find(needle, start)
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


def embedded_program(data: bytes, *, start: int = 0) -> str | None:
    """What program or script is inside `data` from `start` on, in words; None when there is none.

    Magic numbers alone appear by chance in compressed data, so each one is confirmed by its
    header (PE signature behind a DOS header, ELF class/version bytes, a known Mach-O CPU).
    """
    if any(_pe_at(data, at) for at in _find_all(data, b"MZ", start)):
        return "a Windows program (EXE/DLL)"
    if any(_elf_at(data, at) for at in _find_all(data, b"\x7fELF", start)):
        return "a Linux program (ELF)"
    for magic in _MACHO:
        if any(_macho_at(data, at) for at in _find_all(data, magic, start)):
            return "a macOS program (Mach-O)"
    if _SCRIPT.search(data, start) is not None:
        return "a shell script"
    return None


def check_no_program(data: bytes, name: str, what: str) -> None:
    """Refuse a file that carries a program or script besides its own content."""
    inside = embedded_program(data, start=1)
    if inside is not None:
        raise UserError(
            f"{name}: this {what} has {inside} hidden inside it; evidence must be the document "
            "alone (save or print it again, then attach the new copy)"
        )


def check_pdf_active(data: bytes, name: str) -> None:
    """Refuse PDFs with scripts, launch actions or attached files (PSPs refuse them too)."""
    for marker, words in _PDF_ACTIVE:
        for at in _find_all(data, marker):
            after = data[at + len(marker) : at + len(marker) + 1]
            if not after.isalnum():  # /JS, not /JSomething
                raise UserError(
                    f"{name}: the PDF contains {words}; print it to a new PDF and attach that"
                )


def check_png_size(data: bytes, name: str) -> None:
    """Refuse a PNG whose header declares more pixels than we open (read before Pillow is)."""
    if len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        check_pixels(width, height, name)


def check_pixels(width: int, height: int, name: str) -> None:
    """Refuse images larger than MAX_PIXELS."""
    if width * height > MAX_PIXELS:
        raise UserError(
            f"{name}: the image is {width}x{height} pixels; the largest accepted is "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        )


def check_zip(data: bytes, name: str) -> None:
    """Bound an archive's members (count, size, ratio) and look for programs inside them.

    Every member is read (in chunks, so memory stays bounded), which also checks its CRC and
    that it really unpacks to no more than its header says.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise UserError(f"{name}: the workbook has {len(infos):,} parts; too many to open")
            total = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
            _check_unpacked(name, total, packed)
            for info in infos:
                lower = info.filename.lower()
                if lower.endswith(("vbaproject.bin", ".exe", ".dll", ".bat", ".cmd", ".ps1")):
                    raise UserError(f"{name}: the workbook carries {info.filename}; not accepted")
                _scan_member(zf, info, name)
    except UserError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as exc:
        raise UserError(f"{name}: the workbook is damaged and cannot be opened ({exc})") from exc


def _check_unpacked(name: str, total: int, packed: int) -> None:
    if total > MAX_UNZIPPED:
        raise UserError(
            f"{name}: the workbook unpacks to {total / 2**20:.0f} MB; the largest accepted is "
            f"{MAX_UNZIPPED // 2**20} MB unpacked"
        )
    if total > _CHUNK and total / packed > MAX_ZIP_RATIO:
        raise UserError(
            f"{name}: the workbook unpacks {total / packed:.0f} times its size (a ZIP bomb?); "
            f"at most {MAX_ZIP_RATIO} times is accepted"
        )


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    tail = b""
    read = 0
    with zf.open(info) as member:
        while True:
            chunk = member.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            if read > info.file_size:
                raise UserError(f"{name}: {info.filename} unpacks to more than it declares")
            window = tail + chunk
            inside = embedded_program(window)
            if inside is not None:
                raise UserError(f"{name}: the workbook has {inside} inside ({info.filename})")
            tail = window[-64:]


def check_pdf_catalog(root: Any, name: str) -> None:
    """The same refusal for scripts and attachments declared in compressed objects.

    Args:
        root: the document catalog (`reader.trailer["/Root"]` of pypdf).
        name: the file name shown in the refusal.
    """
    names = root.get("/Names") or {}
    action = root.get("/OpenAction")
    kind = action.get("/S") if hasattr(action, "get") else None
    found = (
        "JavaScript"
        if "/JavaScript" in names or kind == "/JavaScript"
        else "attached files"
        if "/EmbeddedFiles" in names
        else "an action that starts a program"
        if kind == "/Launch"
        else "actions run on opening"
        if "/AA" in root
        else None
    )
    if found is not None:
        raise UserError(f"{name}: the PDF contains {found}; print it to a new PDF and attach that")
