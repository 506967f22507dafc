"""Analytics: management KPIs, their per-batch rollups, chart data, the dashboard view and the
management workbook.

Read-only over the store (the rollup cache aside). May import `common`, exporters and models;
other domains never import it.
"""
