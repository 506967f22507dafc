"""Representment package: one PDF (cover letter, summary, index, every evidence item) plus a ZIP.

Works on a plain `PackageData` the dispute service assembles (texts already filled in and card
numbers already masked); nothing here reads the database. Cover letter, transaction summary and
evidence index are drawn with reportlab, evidence PDFs are appended with pypdf, images are scaled
onto A4 pages and text items are set in a monospaced font. The PDF has an outline (bookmarks) per
section and per evidence item. The ZIP holds the PDF, the original files under safe names and
`manifest.json` with each file's sha256 and size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import textwrap
import unicodedata
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ..errors import UserError

PAGE_W, PAGE_H = 595.2756, 841.8898  # A4 in points
MARGIN = 48.0
IMAGE_MAX_PX = 1600  # longest side after scaling: about 150 dpi over the A4 image box
_FONT_PATHS = {
    "sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "Helvetica"),
    "sans-bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "Helvetica-Bold"),
    "mono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "Courier"),
}


@dataclass
class PackageItem:
    """One evidence file as it goes into the package."""

    number: int
    title: str  # kind label, e.g. "Proof of delivery"
    kind: str
    file_name: str
    media_type: str
    sha256: str
    content: bytes
    text: str | None = None  # readable, masked text for text/e-mail/CSV/XLSX items

    @property
    def zip_name(self) -> str:
        return f"originals/{self.number:02d}_{ascii_name(self.file_name)}"


@dataclass
class PackageData:
    """Everything the package shows, assembled by the dispute service."""

    case_id: str
    title: str
    merchant_name: str
    cover_letter: str
    summary: list[tuple[str, str]]
    items: list[PackageItem]
    pdf_name: str
    generated_at: dt.datetime
    manifest_extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderedPdf:
    """The built PDF and where its parts start (0-based page numbers)."""

    data: bytes
    pages: int
    outline: list[tuple[str, int, int]]  # (title, page, level)
    item_pages: list[tuple[int, int]]  # (first page, page count) per item


def ascii_name(name: str) -> str:
    """A file name safe in any ZIP tool and portal: ASCII letters, digits, `._-`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._") or "file"
    return plain[-100:]


@cache
def _setup() -> None:
    """reportlab settings: binary image streams (ASCII85 is pure Python here and 25 % larger)."""
    from reportlab import rl_config

    rl_config.useA85 = 0


@cache
def _fonts() -> dict[str, str]:
    """Font names to use: DejaVu when installed (all of Unicode), else the PDF base fonts."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    out = {}
    for key, (path, fallback) in _FONT_PATHS.items():
        name = f"WS-{key}"
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont(name, path))
                out[key] = name
                continue
            except Exception:
                pass
        out[key] = fallback
    return out


def _latin(text: str) -> str:
    """Text the base fonts can draw (only needed when no Unicode font is installed)."""
    if _fonts()["mono"] != "Courier":
        return text
    return text.encode("cp1252", "replace").decode("cp1252")


# ----------------------------------------------------------------------------- front matter


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    f = _fonts()
    return {
        "h1": ParagraphStyle("h1", fontName=f["sans-bold"], fontSize=15, leading=19, spaceAfter=10),
        "body": ParagraphStyle("body", fontName=f["sans"], fontSize=10, leading=13.5),
        "small": ParagraphStyle("small", fontName=f["sans"], fontSize=8.5, leading=11),
        "cell": ParagraphStyle("cell", fontName=f["sans"], fontSize=9, leading=11.5),
        "cellb": ParagraphStyle("cellb", fontName=f["sans-bold"], fontSize=9, leading=11.5),
    }


def _doc_pdf(story: list[Any], title: str, footer: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    buf = io.BytesIO()
    font = _fonts()["sans"]

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(MARGIN, MARGIN / 2, _latin(footer))
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=footer,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


def _paragraphs(text: str, style: Any) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer

    out: list[Any] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        html = "<br/>".join(escape(_latin(line)) for line in block.splitlines())
        out.append(Paragraph(html, style))
        out.append(Spacer(1, 8))
    return out


def _cover_pdf(data: PackageData) -> bytes:
    st = _styles()
    story = _paragraphs(data.cover_letter, st["body"])
    return _doc_pdf(story, data.title, f"{data.merchant_name} - {data.case_id} - cover letter")


def _table(rows: list[list[Any]], widths: list[float]) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE3F0")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#B0B7C3")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return t


def _summary_pdf(data: PackageData) -> bytes:
    from reportlab.platypus import Paragraph

    st = _styles()
    rows = [[Paragraph("Field", st["cellb"]), Paragraph("Value", st["cellb"])]]
    rows += [
        [Paragraph(escape(_latin(k)), st["cell"]), Paragraph(escape(_latin(v)), st["cell"])]
        for k, v in data.summary
    ]
    width = PAGE_W - 2 * MARGIN
    story = [Paragraph("Transaction summary", st["h1"]), _table(rows, [150, width - 150])]
    return _doc_pdf(story, data.title, f"{data.merchant_name} - {data.case_id} - summary")


def _index_pdf(data: PackageData, starts: list[tuple[int, int]]) -> bytes:
    from reportlab.platypus import Paragraph

    st = _styles()
    head = ["#", "Evidence", "File", "Pages"]
    rows = [[Paragraph(h, st["cellb"]) for h in head]]
    for item, (first, count) in zip(data.items, starts, strict=True):
        pages = f"{first + 1}" if count == 1 else f"{first + 1}-{first + count}"
        rows.append(
            [
                Paragraph(str(item.number), st["cell"]),
                Paragraph(escape(_latin(item.title)), st["cell"]),
                Paragraph(escape(_latin(item.file_name)), st["cell"]),
                Paragraph(pages, st["cell"]),
            ]
        )
    width = PAGE_W - 2 * MARGIN
    story = [Paragraph("Evidence index", st["h1"])]
    if data.items:
        story.append(_table(rows, [24, 170, width - 24 - 170 - 60, 60]))
    else:
        story.append(Paragraph("No evidence files are attached.", st["body"]))
    return _doc_pdf(story, data.title, f"{data.merchant_name} - {data.case_id} - evidence index")


# ----------------------------------------------------------------------------- evidence pages


def _header(canvas: Any, item: PackageItem, case_id: str) -> None:
    canvas.setFont(_fonts()["sans"], 8)
    canvas.drawString(
        MARGIN,
        PAGE_H - MARGIN / 2 - 4,
        _latin(f"{case_id} - evidence {item.number}: {item.title} ({item.file_name})"),
    )


def _scaled_jpeg(content: bytes) -> tuple[bytes, int, int]:
    """The image as JPEG no larger than IMAGE_MAX_PX (originals that fit are used as they are)."""
    from PIL import Image

    with Image.open(io.BytesIO(content)) as src:
        w, h = src.size
        if src.format == "JPEG" and src.mode == "RGB" and max(w, h) <= IMAGE_MAX_PX:
            return content, w, h
        scale = min(1.0, IMAGE_MAX_PX / max(w, h))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if src.format == "JPEG":
            src.draft("RGB", size)  # the decoder scales by 1/2, 1/4, 1/8 on its own
        img = src.convert("RGB") if src.mode != "RGB" else src
        if img.size != size:
            img = img.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=88)
        return out.getvalue(), size[0], size[1]


def _image_pdf(item: PackageItem, case_id: str, scaled: tuple[bytes, int, int]) -> bytes:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    jpeg, w, h = scaled
    box_w, box_h = PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN - 12
    scale = min(box_w / w, box_h / h)
    out = io.BytesIO()
    c = Canvas(out, pagesize=(PAGE_W, PAGE_H))
    _header(c, item, case_id)
    dw, dh = w * scale, h * scale
    c.drawImage(
        ImageReader(io.BytesIO(jpeg)), MARGIN + (box_w - dw) / 2, MARGIN + (box_h - dh), dw, dh
    )
    c.showPage()
    c.save()
    return out.getvalue()


def _text_pdf(item: PackageItem, case_id: str) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    size, leading = 8.0, 10.0
    cols = int((PAGE_W - 2 * MARGIN) / (size * 0.602))
    lines: list[str] = []
    for raw in _latin(item.text or "").expandtabs(4).split("\n"):
        wrapped = textwrap.wrap(raw, cols, replace_whitespace=False, drop_whitespace=False)
        lines.extend(wrapped or [""])
    per_page = int((PAGE_H - 2 * MARGIN - 14) / leading)
    out = io.BytesIO()
    c = Canvas(out, pagesize=(PAGE_W, PAGE_H))
    font = _fonts()["mono"]
    for start in range(0, max(1, len(lines)), per_page):
        _header(c, item, case_id)
        t = c.beginText(MARGIN, PAGE_H - MARGIN - 14)
        t.setFont(font, size, leading)
        for line in lines[start : start + per_page]:
            t.textLine(line)
        c.drawText(t)
        c.showPage()
    c.save()
    return out.getvalue()


def _item_pdfs(data: PackageData) -> list[bytes]:
    """Each item as PDF pages; images are decoded and scaled on worker threads (Pillow releases
    the GIL there), the drawing stays on this thread."""
    images = [i for i in data.items if i.media_type.startswith("image/")]
    workers = max(1, min(4, os.cpu_count() or 1, len(images)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        scaled = dict(
            zip(
                (i.number for i in images),
                pool.map(_scaled_jpeg, [i.content for i in images]),
                strict=True,
            )
        )
    out = []
    for item in data.items:
        if item.media_type == "application/pdf":
            out.append(item.content)
        elif item.number in scaled:
            out.append(_image_pdf(item, data.case_id, scaled[item.number]))
        else:
            out.append(_text_pdf(item, data.case_id))
    return out


# ----------------------------------------------------------------------------- the package


def render_pdf(data: PackageData) -> RenderedPdf:
    """Build the package PDF with its outline."""
    from pypdf import PdfReader, PdfWriter

    _setup()

    def reader(blob: bytes) -> PdfReader:
        return PdfReader(io.BytesIO(blob))

    cover = reader(_cover_pdf(data))
    summary = reader(_summary_pdf(data))
    _fonts()
    items = [reader(blob) for blob in _item_pdfs(data)]
    counts = [len(r.pages) for r in items]
    front = len(cover.pages) + len(summary.pages)
    index_pages = 1
    for _ in range(4):  # the index lists page numbers, which depend on its own length
        starts, page = [], front + index_pages
        for n in counts:
            starts.append((page, n))
            page += n
        index = reader(_index_pdf(data, starts))
        if len(index.pages) == index_pages:
            break
        index_pages = len(index.pages)
    writer = PdfWriter()
    outline: list[tuple[str, int, int]] = []
    for title, part in (
        ("Cover letter", cover),
        ("Transaction summary", summary),
        ("Evidence index", index),
    ):
        outline.append((title, len(writer.pages), 0))
        writer.append(part, import_outline=False)
    for title, page, _level in outline:
        writer.add_outline_item(title=title, page_number=page)
    evidence_root = None
    if items:
        outline.append(("Evidence", len(writer.pages), 0))
        evidence_root = writer.add_outline_item(title="Evidence", page_number=len(writer.pages))
    for item, part, (first, _n) in zip(data.items, items, starts, strict=True):
        writer.append(part, import_outline=False)
        label = f"{item.number}. {item.title} - {item.file_name}"
        writer.add_outline_item(title=_latin(label), page_number=first, parent=evidence_root)
        outline.append((label, first, 1))
    writer.add_metadata({"/Title": data.title, "/Author": data.merchant_name})
    writer.page_mode = "/UseOutlines"
    buf = io.BytesIO()
    writer.write(buf)
    pages = len(writer.pages)
    return RenderedPdf(buf.getvalue(), pages, outline, starts)


def manifest(data: PackageData, pdf: RenderedPdf) -> dict[str, Any]:
    """The manifest.json content: every file of the ZIP with sha256 and size."""
    return {
        "case": data.case_id,
        "title": data.title,
        "generated_at": data.generated_at.astimezone(dt.UTC).isoformat(),
        "pdf": {
            "name": data.pdf_name,
            "sha256": hashlib.sha256(pdf.data).hexdigest(),
            "size": len(pdf.data),
            "pages": pdf.pages,
        },
        "files": [
            {
                "name": item.zip_name,
                "original_name": item.file_name,
                "kind": item.kind,
                "media_type": item.media_type,
                "sha256": hashlib.sha256(item.content).hexdigest(),
                "size": len(item.content),
                "pdf_first_page": first + 1,
                "pdf_pages": n,
            }
            for item, (first, n) in zip(data.items, pdf.item_pages, strict=True)
        ],
        **data.manifest_extra,
    }


def write_zip(path: Path, data: PackageData, pdf: RenderedPdf) -> dict[str, Any]:
    """Write the ZIP (PDF, originals, manifest.json) atomically; returns the manifest."""
    if path.suffix.lower() != ".zip":
        raise UserError("the package file name must end in .zip", file=str(path))
    if not path.parent.is_dir():
        raise UserError("folder does not exist", file=str(path.parent))
    meta = manifest(data, pdf)
    tmp = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(data.pdf_name, pdf.data)
            for item in data.items:
                zf.writestr(item.zip_name, item.content)
            zf.writestr("manifest.json", json.dumps(meta, indent=2, ensure_ascii=False))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the package: {exc.strerror}", file=str(path)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return meta
