"""Use cases, grouped like the pages: Session in, plain reports out, no Qt.

Domains (each package's docstring says what it owns and what it may import):

- `imports/`    read a file, recognise its format, store its lines once; batches and their undo.
- `reconcile/`  the rule cascade, runs, why-not, clerk actions on matches, exception cases, the
                exceptions/matches table queries and their exports.
- `disputes/`   intake from PSP files, linking to records, the urgency queue, the case view,
                evidence and the representment package.
- `analytics/`  KPIs, their rollups, chart data, the dashboard view and the management workbook.
- `roundtrip/`  Excel round trip of queue decisions (exceptions and disputes).
- `demo/`       the deterministic demo merchant month.
- `common/`     small pieces every domain uses: audit log, users, bulk writes, DataFrame I/O,
                reference tokens, card-number masking, FX rates, running work in a child process.

Domains import `common/`, the models, importers and exporters; a domain reaches into another only
through that domain's public functions (import-linter contracts in pyproject.toml keep it so).
"""
