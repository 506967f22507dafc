"""Card networks, payment methods and PSP names as the metrics group them."""

from __future__ import annotations

from typing import Any

from .measures import text_or_none


def normalise_network(value: str | None) -> str | None:
    """Card network of a network name or payment method (visa, mastercard, amex, discover)."""
    if not value:
        return None
    v = "".join(ch for ch in str(value).lower() if ch.isalnum())
    if v.startswith("visa") or v in ("electron", "vpay"):
        return "visa"
    if v.startswith(("mastercard", "mc")) or v in ("master", "maestro"):
        return "mastercard" if v != "maestro" else "maestro"
    if v.startswith(("amex", "americanexpress")):
        return "amex"
    if v.startswith("discover"):
        return "discover"
    if v in ("jcb", "diners", "dinersclub", "unionpay", "cup", "cartesbancaires", "cb"):
        return v
    return None


def network_or_name(value: Any) -> str | None:
    """The card network of a dispute's network field, else the field lower-cased (None if empty)."""
    return normalise_network(value) or (str(value).lower() if value else None)


def method_label(method: str) -> str:
    """Display name of a raw payment method: the card network if it is one, else as reported."""
    if not method:
        return "all"
    return normalise_network(method) or method


def psp_name(provider: Any, source: str) -> str:
    """A PSP line's PSP: its source's provider, lower-case, else the source name."""
    return (text_or_none(provider) or "").lower() or source
