"""What an evidence file is: its type told by its content, a safe name, its size and its text.

A file is accepted when its bytes are a PDF, PNG, JPEG, XLSX workbook or text (plain, e-mail,
CSV) and its name does not claim another type: a `.pdf` that is really a program or a ZIP is
refused, whatever the name says. Names are plain file names: folder parts (`../../x`, `/etc/x`,
`C:\\x`) are refused, odd characters replaced.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ...errors import UserError
from ...importers.text import decode, looks_binary
from ..common.card_numbers import mask_text
from .evidence_safety import (
    MAX_PIXELS,
    MAX_UNZIPPED,
    check_no_program,
    check_pdf_active,
    check_pdf_catalog,
    check_pixels,
    check_png_size,
    check_zip,
)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TEXT = "text/plain"
EML = "message/rfc822"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = (PDF, PNG, JPEG, TEXT, EML, CSV, XLSX)
TEXT_TYPES = (TEXT, EML, CSV)
LABELS = {
    PDF: "PDF",
    PNG: "PNG image",
    JPEG: "JPEG image",
    TEXT: "text",
    EML: "e-mail (EML)",
    CSV: "CSV table",
    XLSX: "Excel workbook (XLSX)",
}
SUFFIX = {
    PDF: ".pdf",
    PNG: ".png",
    JPEG: ".jpg",
    TEXT: ".txt",
    EML: ".eml",
    CSV: ".csv",
    XLSX: ".xlsx",
}
_BY_SUFFIX = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".xlsx": XLSX,
    ".txt": TEXT,
    ".text": TEXT,
    ".log": TEXT,
    ".eml": EML,
    ".csv": CSV,
}
# Content we recognise only to name it in the refusal.
_FOREIGN = (
    (b"MZ", "a Windows program (EXE/DLL)"),
    (b"\x7fELF", "a Linux program (ELF)"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (DOC/XLS)"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BM", "a BMP image"),
    (b"{\\rtf", "an RTF document"),
)
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)
_BAD_CHARS = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')


@dataclass(frozen=True)
class Detected:
    """What a file's bytes are."""

    media_type: str
    pages: int | None = None  # PDF pages


def size_text(n: int) -> str:
    """`20 KB`, `5.0 MB` (binary units, as file managers show them)."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


# ----------------------------------------------------------------------------- names


def safe_file_name(name: str) -> str:
    """A plain, portable file name; names with folder parts or traversal are refused.

    Raises:
        UserError: the name has a folder part (`../x`, `/x`, `C:\\x`, `a/b`) or is empty.
    """
    raw = unicodedata.normalize("NFC", name or "")
    if "\x00" in raw:
        raise UserError(f"file name {name!r} contains a NUL character")
    shown = raw.strip()
    if not shown:
        raise UserError("the file name is empty")
    win, posix = PureWindowsPath(shown), PurePosixPath(shown)
    if posix.is_absolute() or win.is_absolute() or win.drive or shown.startswith(("\\", "/")):
        raise UserError(
            f"file name {name!r} is an absolute path; evidence names must be plain file names"
        )
    parts = [p for p in re.split(r"[\\/]", shown) if p]
    if any(p == ".." for p in parts):
        raise UserError(
            f"file name {name!r} points outside its folder ('..'); evidence names must be plain "
            "file names"
        )
    if len(parts) != 1:
        raise UserError(
            f"file name {name!r} contains a folder path; evidence names must be plain file names"
        )
    clean = _BAD_CHARS.sub("_", parts[0])
    clean = re.sub(r"\s+", " ", clean).strip(" .")
    if not clean or clean in (".", ".."):
        clean = "evidence"
    if _RESERVED.match(clean):
        clean = "_" + clean
    stem, dot, ext = clean.rpartition(".")
    if dot and len(ext) <= 8 and stem:
        clean = stem[: 120 - len(ext) - 1] + "." + ext
    else:
        clean = clean[:120]
    return clean


# ----------------------------------------------------------------------------- content


def _foreign(data: bytes) -> str:
    head = data[:16]
    for magic, label in _FOREIGN:
        if head.startswith(magic):
            return label
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "a WebP image"
    if data[4:8] == b"ftyp":
        return "a HEIC/MP4 file"
    return "an unrecognised binary file"


def _zip_type(data: bytes) -> tuple[str | None, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist())
            names = set(zf.namelist())
            if total > MAX_UNZIPPED:
                return None, f"a ZIP file that unpacks to more than {MAX_UNZIPPED // 2**20} MB"
            if "[Content_Types].xml" not in names:
                return None, "a ZIP archive"
            types = zf.read("[Content_Types].xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError):
        return None, "a damaged ZIP archive"
    if "spreadsheetml.sheet.main+xml" in types or "ms-excel.sheet.macroEnabled" in types:
        if "macroEnabled" in types:
            return None, "a macro-enabled workbook (XLSM)"
        return XLSX, LABELS[XLSX]
    if "wordprocessingml" in types:
        return None, "a Word document (DOCX)"
    if "presentationml" in types:
        return None, "a PowerPoint file (PPTX)"
    return None, "a ZIP-based Office file"


def _looks_like_email(text: str) -> bool:
    head = text.lstrip()[:4000].splitlines()
    names = set()
    for line in head:
        if not line.strip():
            break
        m = re.match(r"^([A-Za-z][A-Za-z0-9-]*):\s", line)
        if m:
            names.add(m.group(1).lower())
    known = {"from", "to", "subject", "date", "received", "message-id", "mime-version", "cc"}
    return len(names & known) >= 2


def _looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text[:8192].splitlines() if ln.strip()][:20]
    if len(lines) < 2:
        return False
    for delim in (",", ";", "\t", "|"):
        counts = {next(csv.reader([ln], delimiter=delim), []).__len__() for ln in lines}
        if len(counts) == 1 and counts.pop() >= 2:
            return True
    return False


def detect(data: bytes) -> tuple[str | None, str]:
    """(media type or None, what the content is in words) from the bytes alone."""
    if not data:
        return None, "an empty file"
    head = data[:1024]
    if data.startswith(b"%PDF-"):
        return PDF, LABELS[PDF]
    if b"%PDF-" in head:  # a PDF must start at byte 0; what is in front of it is not evidence
        at = head.find(b"%PDF-")
        return None, _foreign(data) if looks_binary(data[:at]) else f"a PDF behind {at} bytes"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG, LABELS[PNG]
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG, LABELS[JPEG]
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if looks_binary(data[:65536]):
        return None, _foreign(data)
    try:
        text, _ = decode(data)
    except (UnicodeDecodeError, LookupError):
        return None, "text in an unknown encoding"
    if _looks_like_email(text):
        return EML, LABELS[EML]
    if _looks_like_csv(text):
        return CSV, LABELS[CSV]
    return TEXT, LABELS[TEXT]


def validate(data: bytes, media_type: str, name: str) -> Detected:
    """Check that a PDF, image or workbook opens fully (not encrypted, damaged or too big)."""
    if media_type == PDF:
        return Detected(PDF, _pdf_pages(data, name))
    if media_type in (PNG, JPEG):
        _open_image(data, name)
    elif media_type == XLSX:
        check_zip(data, name)
        try:
            _xlsx_text(data)
        except Exception as exc:  # calamine raises its own error types for bad workbooks
            raise UserError(f"{name}: the workbook is damaged and cannot be read ({exc})") from exc
    return Detected(media_type)


def _pdf_pages(data: bytes, name: str) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UserError(f"{name}: the PDF is password protected; attach an open copy")
        pages = len(reader.pages)
        check_pdf_catalog(reader.trailer["/Root"], name)
        for page in reader.pages:
            page.get_contents()
    except UserError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise UserError(f"{name}: the PDF is damaged and cannot be read ({exc})") from exc
    if pages == 0:
        raise UserError(f"{name}: the PDF has no pages")
    return pages


def _open_image(data: bytes, name: str) -> None:
    """Open and decode an image with its pixel count bounded before any pixel is decoded."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    if data.startswith(b"\x89PNG"):
        check_png_size(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                check_pixels(*img.size, name)
                img.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UserError(
            f"{name}: the image is too large to open; the largest accepted is "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{name}: the image is damaged and cannot be read") from exc


def check_whole(data: bytes, media_type: str, name: str) -> None:
    """No program or script inside any part of the file, no active content in a PDF."""
    if media_type in TEXT_TYPES:
        if data.lstrip()[:2] == b"#!":
            raise UserError(f"{name} is a script, not evidence; only documents are accepted")
        return
    check_no_program(data, name, LABELS[media_type])
    if media_type == PDF:
        check_pdf_active(data, name)


def check_content(data: bytes, file_name: str, max_bytes: int) -> tuple[str, Detected]:
    """Check size and content of one evidence file; returns (final safe name, what it is).

    Raises:
        UserError: too big, not an accepted type, or the name claims another type.
    """
    name = safe_file_name(file_name)
    if len(data) > max_bytes:
        raise UserError(
            f"{name} is {size_text(len(data))}; the largest evidence file accepted is "
            f"{size_text(max_bytes)} (setting evidence.max_file_bytes)"
        )
    actual, described = detect(data)
    suffix = Path(name).suffix.lower()
    claimed = _BY_SUFFIX.get(suffix)
    accepted = "PDF, PNG, JPEG, text, EML, CSV or XLSX"
    if actual is None:
        if claimed is not None:
            raise UserError(
                f"{name} is named like a {LABELS[claimed]} but its content is {described}; "
                f"evidence is checked by content: only {accepted} files are accepted"
            )
        raise UserError(f"{name} is {described}; only {accepted} files are accepted")
    if claimed is not None:
        both_text = claimed in TEXT_TYPES and actual in TEXT_TYPES
        if not both_text and claimed != actual:
            raise UserError(
                f"{name} is named like a {LABELS[claimed]} but its content is {described}; "
                "rename it to match its content or attach the right file"
            )
        if claimed == EML and actual != EML:
            raise UserError(f"{name} is named like an e-mail but has no e-mail headers")
        if both_text:
            actual = claimed
    else:
        name = (name + SUFFIX[actual])[-120:] if not name.lower().endswith(SUFFIX[actual]) else name
    check_whole(data, actual, name)
    return name, validate(data, actual, name)


def text_of(data: bytes, media_type: str) -> tuple[str, int]:
    """Readable, PAN-masked text of a text, e-mail, CSV or XLSX item: (text, PANs masked)."""
    if media_type == XLSX:
        check_zip(data, "the workbook")  # items stored before the size checks, too
        text = _xlsx_text(data)
    elif media_type == EML:
        text = _email_text(data)
    else:
        text, _ = decode(data)
    return mask_text(text.replace("\r\n", "\n").replace("\r", "\n"))


def _email_text(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    lines = [f"{h}: {msg[h]}" for h in ("From", "To", "Cc", "Date", "Subject") if msg[h]]
    body = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    content = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, UnicodeDecodeError):
            payload = body.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if body.get_content_type() == "text/html":
            content = re.sub(r"<[^>]+>", " ", content)
            content = re.sub(r"[ \t]+", " ", content)
    attachments = [part.get_filename() for part in msg.iter_attachments()]  # type: ignore[attr-defined]
    out = "\n".join(lines) + "\n\n" + content.strip()
    if any(attachments):
        out += "\n\nAttachments: " + ", ".join(a for a in attachments if a)
    return out


def _xlsx_text(data: bytes) -> str:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    out: list[str] = []
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=True)
        out.append(f"[{name}]")
        out.extend(" | ".join("" if v is None else str(v) for v in row) for row in rows[:2000])
        if len(rows) > 2000:
            out.append(f"... {len(rows) - 2000} more rows")
        out.append("")
    return "\n".join(out)


def masked_original(data: bytes, media_type: str) -> tuple[bytes, int]:
    """The bytes of a text, CSV or e-mail file with card numbers masked: (bytes, PANs masked).

    What is stored and shipped in a package is this copy, never the card numbers. An e-mail's
    text parts in base64 or quoted-printable are decoded, masked and written back.
    """
    if media_type not in TEXT_TYPES:
        return data, 0
    text, encoding = decode(data)
    masked, count = mask_text(text)
    out = data
    if count:
        out = masked.encode("utf-8" if encoding.startswith("utf-16") else encoding, "replace")
    if media_type == EML:
        out, more = _mask_email_parts(out)
        count += more
    return out, count


def _mask_email_parts(data: bytes) -> tuple[bytes, int]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    count = 0
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            content = part.get_content()
        except (LookupError, UnicodeDecodeError):
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        masked, n = mask_text(content)
        if n:
            count += n
            disposition, filename = part.get_content_disposition(), part.get_filename()
            part.set_content(  # type: ignore[attr-defined]
                masked,
                subtype=part.get_content_subtype(),
                disposition=disposition,
                filename=filename,
                cte="quoted-printable",
            )
    if not count:
        return data, 0
    return msg.as_bytes(policy=email.policy.default), count
