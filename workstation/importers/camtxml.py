"""Safe loading of an ISO 20022 XML document (camt): no DTD, no entities, no network.

lxml is told never to resolve entities, load a DTD or fetch anything, and a document that declares
a DOCTYPE or an entity is refused before it is parsed: bank statements have none, XML bombs and
external-entity attacks need one. Namespaces are stripped, so elements are found by local name
whatever the version or prefix.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from ..errors import UserError

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_xml(data: bytes, file: str) -> Any:
    """The root element of `data` with namespaces stripped; UserError naming the line if bad."""
    found = _DOCTYPE.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        raise UserError(
            "the XML declares a DOCTYPE or entities; bank statements never do, so the file is "
            "refused (it could be an XML bomb or an external-entity attack)",
            file=file,
            line=line,
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UserError(
            f"not well-formed XML ({exc.msg}); the file is damaged or truncated",
            file=file,
            line=exc.lineno,
        ) from exc
    if root.getroottree().docinfo.internalDTD is not None:  # e.g. a UTF-16 DOCTYPE
        raise UserError("the XML declares a DOCTYPE; refused", file=file, line=1)
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.rsplit("}", 1)[1]
    return root
