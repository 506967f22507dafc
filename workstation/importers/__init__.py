"""File formats, one module each (named in `registry.MODULES`), their shared helpers, a registry."""
