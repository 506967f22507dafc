"""Customer details found in the raw rows of a case's records (e-mail, IP, device, address...)."""

from __future__ import annotations

import re
from typing import Any

# Where order exports keep customer details (keys compared in snake_case).
CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "customer_email",
        "customer_email_address",
        "buyer_email",
        "shopper_email",
        "e_mail",
    ),
    "ip": (
        "ip",
        "ip_address",
        "customer_ip",
        "customer_purchase_ip",
        "shopper_ip",
        "client_ip",
        "purchase_ip",
    ),
    "device_id": ("device_id", "device", "device_fingerprint", "fingerprint_device", "device_fp"),
    "account_id": ("account_id", "user_id", "login", "username", "account", "customer_account"),
    "customer_id": ("customer_id", "customer", "shopper_reference", "customer_reference"),
    "card_fingerprint": (
        "card_fingerprint",
        "payment_fingerprint",
        "payment_method_fingerprint",
        "card_token",
        "card_id",
    ),
    "name": ("customer_name", "name", "shopper_name", "billing_name", "cardholder_name"),
    "shipping_address": ("shipping_address", "ship_address", "delivery_address", "ship_to"),
    "billing_address": ("billing_address", "bill_address"),
}
_ADDRESS_PARTS = (
    ("shipping_line1", "shipping_address_line1", "ship_line1", "shipping_street"),
    ("shipping_line2", "shipping_address_line2"),
    ("shipping_postal_code", "shipping_zip", "shipping_postcode", "ship_zip"),
    ("shipping_city", "ship_city"),
    ("shipping_country", "ship_country"),
)


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


def _flat(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out.setdefault(_snake(f"{k}_{k2}"), v2)
        out.setdefault(_snake(k), v)
    return out


def customer_details(raw: Any) -> dict[str, str]:
    """Customer fields found in a record's raw row (email, ip, device_id, shipping_address...)."""
    flat = _flat(raw)
    out: dict[str, str] = {}
    for name, aliases in CUSTOMER_FIELDS.items():
        for a in aliases:
            v = flat.get(a)
            if v not in (None, "") and not isinstance(v, dict | list):
                out[name] = str(v).strip()
                break
    if "shipping_address" not in out:
        parts = []
        for aliases in _ADDRESS_PARTS:
            v = next((flat[a] for a in aliases if flat.get(a) not in (None, "")), None)
            if v is not None:
                parts.append(str(v).strip())
        if parts:
            out["shipping_address"] = ", ".join(parts)
    return out
