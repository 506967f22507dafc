"""Analytics: the metric catalogue (each KPI defined once), the metrics by concern, their
per-batch rollups and cache, and the surfaces built from the catalogue: dashboard tiles and
view-model, chart data and the management workbook.

Read-only over the store (the rollup cache aside). May import `common`, exporters and models;
other domains never import it. Pages, commands and exporters reach it through `catalogue` and
the dashboard view-model (`dashboard`), never through the metric modules.
"""
