"""PayPal activity download and statement CSV, in English or localised (es, de, fr, it, nl, pt).

Columns are found by header name in any of the languages below. Per file, from the values:
decimal comma or point (`4.626,81` vs `1,653.75`), and day-first or month-first dates
(`29/12/2015` vs `9/27/2018`; when every date is ambiguous, localised files are day-first and
English ones month-first). Times are local to the row's time zone column (`PST`/`PDT`, `CET` or an
IANA name) and stored in UTC.

PayPal writes fees as negative numbers and net = gross + fee; records keep the fee as a positive
cost. Transaction ID is the external id, Reference Txn ID links related rows (both halves of a
currency conversion, a withdrawal and its conversions, a hold and its release). The running
Balance is per currency; a row whose balance does not follow from the previous one is reported in
`checks`. Rows with a status that moves no money (denied, cancelled, failed...) are skipped with a
warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..money import format_minor
from . import column_values, csvutil, table_importer
from .base import ParseResult, Problem, Progress
from .column_values import Issues
from .csvutil import STRING, Table
from .table_importer import ReportImporter, currency_account

# Header names per field (compared normalised: lower case, no accents or punctuation).
FIELDS: dict[str, tuple[str, ...]] = {
    "date": ("date", "fecha", "datum", "data"),
    "time": ("time", "hora", "uhrzeit", "heure", "ora", "tijd"),
    "zone": (
        "timezone",
        "time zone",
        "zona horaria",
        "zeitzone",
        "fuseau horaire",
        "fuso orario",
        "tijdzone",
        "fuso horario",
    ),
    "type": ("type", "tipo", "typ", "description", "descripcion", "beschreibung", "descrizione"),
    "status": ("status", "estado", "statut", "stato"),
    "currency": ("currency", "divisa", "moneda", "wahrung", "devise", "valuta", "moeda"),
    "gross": ("gross", "bruto", "brutto", "brut", "lordo"),
    "fee": ("fee", "comision", "gebuhr", "frais", "commissione", "tariffa", "kosten", "taxa"),
    "net": ("net", "neto", "netto", "netto", "liquido"),
    "balance": ("balance", "saldo", "guthaben", "solde"),
    "txn": (
        "transaction id",
        "id de transaccion",
        "transaktionscode",
        "numero de transaction",
        "id transazione",
        "codice transazione",
        "transactiereferentie",
        "id da transacao",
        "codigo da transacao",
    ),
    "ref": (
        "reference txn id",
        "id de referencia de trans",
        "zugehoriger transaktionscode",
        "numero de transaction de reference",
        "id transazione di riferimento",
        "referentie transactie id",
        "id de referencia da transacao",
    ),
    "name": ("name", "nombre", "nom", "nome", "naam"),
    "from": (
        "from email address",
        "correo electronico del remitente",
        "absender e mail adresse",
        "adresse email de l expediteur",
    ),
    "to": (
        "to email address",
        "correo electronico del destinatario",
        "empfanger e mail adresse",
        "adresse email du destinataire",
    ),
    "invoice": (
        "invoice number",
        "invoice id",
        "id de factura",
        "numero de factura",
        "rechnungsnummer",
        "numero de facture",
        "numero fattura",
    ),
    "receipt": ("receipt id", "id de recibo"),
    "subject": ("subject", "asunto", "betreff", "objet", "oggetto", "item title"),
    "note": ("note", "nota", "hinweis", "remarque"),
    "bank": ("bank name", "nombre del banco", "name der bank", "nom de la banque"),
}
_NOT_MONEY = ("denied", "denegad", "cancel", "failed", "fallid", "voided", "expired", "removed")
# Keyword -> kind, first hit wins (lower-case, accents removed).
_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("chargeback reversal", "dispute_reversal"),
    ("chargeback", "dispute"),
    ("contracargo", "dispute"),
    ("ruckbuchung", "dispute"),
    ("withdrawal", "payout"),
    ("retiro", "payout"),
    ("transfer to bank", "payout"),
    ("abbuchung", "payout"),
    ("auszahlung", "payout"),
    ("retrait", "payout"),
    ("currency conversion", "transfer"),
    ("conversion de divisa", "transfer"),
    ("conversion de moneda", "transfer"),
    ("wahrungsumrechnung", "transfer"),
    ("conversion de devise", "transfer"),
    ("refund", "refund"),
    ("reembolso", "refund"),
    ("ruckzahlung", "refund"),
    ("erstattung", "refund"),
    ("remboursement", "refund"),
    ("hold", "reserve"),
    ("release", "reserve"),
    ("retencion", "reserve"),
    ("reserve", "reserve"),
    ("reversal", "adjustment"),
    ("adjustment", "adjustment"),
    ("fee", "fee"),
    ("payment", "charge"),
    ("pago", "charge"),
    ("zahlung", "charge"),
    ("paiement", "charge"),
    ("pagamento", "charge"),
    ("donation", "charge"),
)


def _kind_of(type_text: str) -> str:
    t = csvutil.norm(type_text)
    for word, kind in _KIND_WORDS:
        if word in t:
            return kind
    return "other"


def _find(table: Table, field: str) -> str | None:
    return table.find(*FIELDS[field])


def _date_format(values: pd.Series, day_first: bool) -> str:
    sample = values.dropna().astype(str).head(1)
    first = sample.iloc[0].strip() if len(sample) else ""
    if len(first) >= 10 and first[4:5] == "-" and first[:4].isdigit():
        return "%Y-%m-%d"
    sep = next((c for c in first if c in "/.-"), "/")
    year = "%Y" if len(first.split(sep)[-1]) == 4 else "%y"
    return f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"


def _balance_checks(
    frame: pd.DataFrame, balance: pd.Series, texts: np.ndarray, balance_h: str
) -> list[Problem]:
    """The running balance per currency must follow from the net of each row.

    Exports are oldest-first or newest-first; the direction with fewer breaks is used.
    """
    checks: list[Problem] = []
    if balance.isna().all():
        return checks
    df = pd.DataFrame(
        {
            "cur": frame["currency"].astype(object),
            "net": frame["net_minor"],
            "bal": balance,
            "line": frame["line_no"],
            "text": texts,
        }
    ).dropna(subset=["cur", "net", "bal"])
    for cur, part in df.groupby("cur", sort=True):
        net = part["net"].astype("int64").to_numpy()
        bal = part["bal"].astype("int64").to_numpy()
        forward = np.flatnonzero(bal[1:] != bal[:-1] + net[1:]) + 1
        backward = np.flatnonzero(bal[:-1] != bal[1:] + net[:-1])
        breaks = forward if len(forward) <= len(backward) else backward
        for i in breaks:
            j = i - 1 if breaks is forward else i + 1
            checks.append(
                Problem(
                    f"{cur} running balance {part['text'].iloc[i]} does not follow from the "
                    f"previous balance {format_minor(int(bal[j]), str(cur))} and net "
                    f"{format_minor(int(net[i]), str(cur))}",
                    line=int(part["line"].iloc[i]),
                    field=balance_h,
                )
            )
    return checks


def _withdrawal_of(
    txn: pd.Series, kind: pd.Series, cur: pd.Series, occurred: pd.Series, related: pd.Series
) -> pd.Series:
    """The withdrawal (payout) each line's money left PayPal with: the next withdrawal in time
    in its currency (PayPal sweeps the balance built up since the last one); a line that names a
    withdrawal in the same currency (its currency conversion) belongs to that one; lines after
    the last withdrawal are still on the balance (None)."""
    is_payout = (kind == "payout").fillna(False).to_numpy(dtype=bool)
    out = pd.Series(txn.where(pd.Series(is_payout, index=txn.index)), dtype=object)
    if not is_payout.any():
        return out.astype(STRING)
    frame = pd.DataFrame(
        {"cur": cur.astype(object), "at": occurred, "pos": np.arange(len(txn)), "ref": out}
    )
    frame = frame.sort_values(["cur", "at", "pos"], kind="stable")
    frame["ref"] = frame.groupby("cur", sort=False)["ref"].bfill()
    swept = frame.sort_values("pos")["ref"].to_numpy(dtype=object)
    payout_cur = dict(zip(txn[is_payout].tolist(), cur[is_payout].tolist(), strict=True))
    same = related.map(payout_cur).astype(object) == cur.astype(object)
    named = related.astype(object).where(same.fillna(False)).to_numpy(dtype=object)
    result = np.where(pd.isna(named), swept, named)
    return pd.Series(result, index=txn.index, dtype=object).astype(STRING)


def parse(path: Path, data: bytes, progress: Progress | None = None) -> ParseResult:
    """Parse a PayPal activity or statement CSV."""
    table_importer.report(progress, 0, 3, "Reading PayPal file")
    table = csvutil.read_table(path, data)
    date_h = table.require("date", *FIELDS["date"])
    cur_h = table.require("currency", *FIELDS["currency"])
    gross_h = table.require("gross", *FIELDS["gross"])
    txn_h = table.require("transaction id", *FIELDS["txn"])
    fee_h, net_h, bal_h = _find(table, "fee"), _find(table, "net"), _find(table, "balance")
    status_h, type_h, zone_h = _find(table, "status"), _find(table, "type"), _find(table, "zone")
    english = csvutil.norm(date_h) == "date"
    n = len(table)
    issues = Issues(table)

    skipped = np.zeros(n, dtype=bool)
    if status_h:
        status = table.col(status_h).fillna("").str.lower()
        skipped = status.str.contains("|".join(_NOT_MONEY), regex=True).to_numpy(dtype=bool)
        issues.skip(
            skipped,
            status_h,
            lambda i: f"skipped: status {table.col(status_h).iloc[i]} moves no money",
        )

    table_importer.report(progress, 1, 3, "Converting amounts")
    money_cols = [(h, table.col(h)) for h in (gross_h, fee_h, net_h, bal_h) if h]
    comma, mark_note = column_values.decimal_mark(money_cols, issues)
    if mark_note:
        issues.notes.append(mark_note)
    cur = column_values.currencies(table.col(cur_h), issues, cur_h)
    exps = column_values.exponents(cur)
    gross = column_values.amounts(table.col(gross_h), exps, issues, gross_h, decimal_comma=comma)
    pp_fee = (
        column_values.amounts(
            table.col(fee_h), exps, issues, fee_h, decimal_comma=comma, required=False
        )
        if fee_h
        else pd.Series(pd.array(np.zeros(n, dtype=np.int64), dtype="Int64"))
    ).fillna(0)
    net = gross + pp_fee
    if net_h:
        stated = column_values.amounts(table.col(net_h), exps, issues, net_h, decimal_comma=comma)
        wrong = (stated != net).fillna(False).to_numpy(dtype=bool)
        net_t, gross_t = table.col(net_h), table.col(gross_h)
        fee_t = table.col(fee_h).fillna("0")
        issues.add(
            wrong,
            net_h,
            lambda i: f"net {net_t.iloc[i]} is not gross {gross_t.iloc[i]} + fee {fee_t.iloc[i]}",
        )
    balance = (
        column_values.amounts(
            table.col(bal_h), exps, Issues(table), bal_h, decimal_comma=comma, required=False
        )
        if bal_h
        else pd.Series(pd.array([None] * n, dtype="Int64"))
    )
    txn = table.col(txn_h)
    issues.add(txn.isna().to_numpy(dtype=bool), txn_h, "transaction id is missing")
    column_values.repeated_ids(txn, issues, txn_h, "transaction id")

    table_importer.report(progress, 2, 3, "Converting dates")
    dates = table.col(date_h)
    day_first = column_values.guess_day_first(dates, default=not english)
    booked, occurred = column_values.local_datetimes(
        dates,
        table.col(_find(table, "time")),
        table.col(zone_h) if zone_h else None,
        issues,
        date_field=date_h,
        zone_field=zone_h,
        date_format=_date_format(dates, day_first),
        default_zone="America/Los_Angeles",
    )

    types = table.col(type_h).fillna("")
    base_kind = column_values.map_values(types, _kind_of, pa.string()).fillna("other")
    outgoing = (gross < 0).fillna(False)
    kind = base_kind.mask((base_kind == "charge") & outgoing, "other")
    subject = column_values.first_of(
        table.col(_find(table, "subject")), table.col(_find(table, "note"))
    )
    description = types.where(subject.isna(), types + ": " + subject.fillna(""))
    description = description.mask(description == "", None)
    name = table.col(_find(table, "name"))
    from_mail, to_mail = table.col(_find(table, "from")), table.col(_find(table, "to"))
    counterparty = column_values.first_of(
        name,
        table.col(_find(table, "bank")),
        from_mail.where(~outgoing.to_numpy(dtype=bool), to_mail),
    )
    records: dict[str, Any] = {
        "line_no": table.line_no,
        "account": "paypal-" + cur,
        "external_id": txn,
        "bank_ref": None,
        "booked_on": booked,
        "value_on": None,
        "occurred_at": occurred,
        "amount_minor": gross.fillna(0).astype("int64"),
        "currency": cur,
        "fee_minor": -pp_fee,
        "net_minor": net,
        "orig_amount_minor": None,
        "orig_currency": None,
        "kind": kind,
        "counterparty": counterparty,
        "description": description.astype(STRING),
        "payout_ref": _withdrawal_of(txn, kind, cur, occurred, table.col(_find(table, "ref"))),
        "raw": table.raw(),
        "ref_related": table.col(_find(table, "ref")),
        "ref_order": table.col(_find(table, "invoice")),
        "ref_receipt": table.col(_find(table, "receipt")),
    }
    all_rows = pd.DataFrame({"currency": cur, "net_minor": net, "line_no": table.line_no}).loc[
        ~skipped
    ]
    checks = (
        _balance_checks(
            all_rows,
            balance.loc[~skipped],
            table.col(bal_h).loc[~skipped].to_numpy(dtype=object, na_value=None),
            bal_h,
        )
        if bal_h
        else []
    )
    frame = table_importer.finish(records, issues)
    accounts = {
        f"paypal-{c}": currency_account("paypal", "PayPal", c)
        for c in pd.unique(frame["currency"].dropna())
    }
    table_importer.report(progress, 3, 3, "Read PayPal file")
    return table_importer.result("paypal", frame, accounts, issues, n, checks=checks)


class PayPalImporter(ReportImporter):
    """PayPal activity / statement CSV."""

    name = "paypal"
    label = "PayPal activity download or statement CSV"

    def score(self, names: set[str]) -> int:
        def has(field: str) -> bool:
            return any(csvutil.norm(c) in names for c in FIELDS[field])

        if all(has(f) for f in ("date", "currency", "gross", "net", "txn")) and (
            has("balance") or has("fee")
        ):
            return 95
        return 0


IMPORTER = PayPalImporter(parse)
