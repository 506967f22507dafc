"""Pages of the main window; each is `<Name>Page(QWidget)` built as `Page(ctx, parent)`.

Optional page methods the main window uses when present:
- `export_table()`: File > Export current table… (Ctrl+E) calls it.
- `page_shown()`: called each time the user navigates to the page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    module: str  # under workstation.views.pages
    class_name: str
    tooltip: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("exceptions", "Exceptions", "exceptions", "ExceptionsPage", "Open exception cases"),
    PageSpec("disputes", "Disputes", "disputes", "DisputesPage", "Chargebacks and deadlines"),
    PageSpec("imports", "Imports", "imports", "ImportsPage", "Imported files, undo an import"),
    PageSpec("matches", "Matches", "matches", "MatchesPage", "Matched and suggested lines"),
    PageSpec("dashboard", "Dashboard", "dashboard", "DashboardPage", "Totals and trends"),
    PageSpec("payouts", "Payouts", "payouts", "PayoutsPage", "PSP payouts and their bank lines"),
)
