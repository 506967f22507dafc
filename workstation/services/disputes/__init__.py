"""Disputes: intake from PSP files with history, linking to records and the money trail, the
urgency queue with claim-next, the case view, evidence and the representment package.

May import `common`, exporters (table, package), importers' text helpers and models; never
`analytics` or `reconcile`.
"""
