"""Shared pieces every domain uses: audit log, users, bulk writes, DataFrame I/O, reference tokens,
card-number masking, FX rates and running a service in a child process.

Owns no page of its own. May import models, importers' plain types and the money helpers; never
another services domain (they import it, not the other way round).
"""
