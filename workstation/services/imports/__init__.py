"""Imports: read a file, recognise it, parse it, store its lines once; past batches and undo.

Owns `file_import` (the use case behind the Imports page and `workstation import`), `ingest`
(PAN masking, one-transaction bulk insert; with `column_conversions`, the fingerprints and dedupe
of `dedupe` and the reference tokens of `reference_rows`) and `mapping_profiles` (saved column
mappings for tabular files). May import `common`, importers and models; it calls
`disputes.intake` to store dispute reports and `reconcile.cases` to open cases for new lines, and
nothing else of other domains.
"""
