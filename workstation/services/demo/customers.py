"""Customers of the demo month, drawn as whole columns (about 2 % of them British).

Each has a name, an e-mail address, an account id, an IP address, a device id and a shipping
address; orders copy them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import HEX, Strs, cat, chars, lookup, num
from .vocabulary import (
    CITIES_DE,
    CITIES_GB,
    FIRST_DE,
    FIRST_GB,
    IP_FIRST_OCTET,
    LAST_DE,
    LAST_GB,
    MAIL_DOMAINS,
    STREETS_DE,
    STREETS_GB,
)


@dataclass
class Customers:
    """One entry per customer: British or not, and the text columns orders copy."""

    gb: np.ndarray
    name: Strs
    email: Strs
    account: Strs
    ip: Strs
    device: Strs
    address: Strs


def draw_customers(rng: np.random.Generator, n_cust: int) -> Customers:
    """`n_cust` customers drawn from `rng`."""
    gb = rng.random(n_cust) < 0.02
    first = np.where(
        gb,
        len(FIRST_DE) + rng.integers(0, len(FIRST_GB), n_cust),
        rng.integers(0, len(FIRST_DE), n_cust),
    )
    last = np.where(
        gb,
        len(LAST_DE) + rng.integers(0, len(LAST_GB), n_cust),
        rng.integers(0, len(LAST_DE), n_cust),
    )
    firsts, lasts = FIRST_DE + FIRST_GB, LAST_DE + LAST_GB
    c_name = cat(lookup(firsts, first), " ", lookup(lasts, last))
    c_email = cat(
        lookup([_ascii(f) for f in firsts], first),
        ".",
        lookup([_ascii(s) for s in lasts], last),
        num(rng.integers(1, 100, n_cust)),
        "@",
        lookup(MAIL_DOMAINS, rng.integers(0, len(MAIL_DOMAINS), n_cust)),
    )
    c_account = cat("CUST-", num(np.arange(1, n_cust + 1), 7))
    c_ip = random_ips(rng, n_cust)
    c_device = cat("dev_", chars(rng, n_cust, 12, HEX))
    house = num(rng.integers(1, 180, n_cust))
    de_addr = cat(
        lookup(STREETS_DE, rng.integers(0, len(STREETS_DE), n_cust)),
        " ",
        house,
        ", ",
        lookup(CITIES_DE, rng.integers(0, len(CITIES_DE), n_cust)),
    )
    gb_addr = cat(
        house,
        " ",
        lookup(STREETS_GB, rng.integers(0, len(STREETS_GB), n_cust)),
        ", ",
        lookup(CITIES_GB, rng.integers(0, len(CITIES_GB), n_cust)),
    )
    c_addr = pc.if_else(pa.array(gb), gb_addr, de_addr)
    return Customers(
        gb=gb,
        name=c_name,
        email=c_email,
        account=c_account,
        ip=c_ip,
        device=c_device,
        address=c_addr,
    )


def random_ips(rng: np.random.Generator, n: int) -> Strs:
    """`n` IPv4 addresses whose first octet is one of a few European providers' ranges."""
    octets = rng.integers(1, 255, size=(n, 3))
    first = IP_FIRST_OCTET[rng.integers(0, IP_FIRST_OCTET.size, n)]
    return cat(num(first), ".", num(octets[:, 0]), ".", num(octets[:, 1]), ".", num(octets[:, 2]))


def _ascii(text: str) -> str:
    """A name as the local part of an e-mail address: lower case ASCII letters and digits."""
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ë": "e", "é": "e"})
    out = text.lower().translate(table).replace("ı", "i")
    return "".join(ch for ch in out if ch.isalnum())
