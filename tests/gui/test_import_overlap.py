"""The import preview of a statement partly stored already (the same account from another format):
the overlap line by line, and Import only once the user agrees."""

from __future__ import annotations

from pathlib import Path

from workstation.services.imports.file_import import import_file
from workstation.views.dialogs.file_preview import FileEntry, FilePreview

DATA = Path(__file__).resolve().parents[1] / "data" / "cross_format"
CAMT = DATA / "genkgo_camt053_001_08.xml"  # statement 253 with AcctSvcrRef
MT940 = DATA / "genkgo_multi_statement_as_mt940.sta"  # the same statement as MT940, NONREF


def test_partial_overlap_is_shown_and_must_be_agreed(db, qtbot, qtmodeltester) -> None:
    with db.session() as s:
        import_file(s, CAMT, actor="tester")
        s.commit()
    with db.session() as s:
        report = import_file(s, MT940, actor="tester", dry_run=True, preview_rows=10)
        s.rollback()
    entry = FileEntry(MT940, state="ready", report=report)
    preview = FilePreview(entry)
    qtbot.addWidget(preview)
    preview.resize(1000, 700)
    preview.show()
    qtbot.waitExposed(preview)
    assert preview.overlap.isVisible()
    assert "1 line taken as already stored, 1 line new" in preview.overlap_title.text()
    assert "genkgo_camt053_001_08.xml 2014-12-31" in preview.overlap_label.text()
    qtmodeltester.check(preview.overlap_model)
    m = preview.overlap_model
    statuses = [m.index(r, 5).data() for r in range(m.rowCount())]
    matched = [m.index(r, 6).data() for r in range(m.rowCount())]
    assert statuses == ["already stored", "new"] and matched[0] == "date and amount"
    assert "already stored" in preview.banner.text()
    assert not entry.importable  # the user has not looked yet
    with qtbot.waitSignal(preview.accept_changed):
        preview.overlap_accept.setChecked(True)
    assert entry.importable
    entry.reset_decisions()  # a new preview asks again
    assert not entry.importable
    preview.overlap_accept.setChecked(True)
    shots = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if shots.is_dir():
        preview.grab().save(str(shots / "import_overlap.png"))
