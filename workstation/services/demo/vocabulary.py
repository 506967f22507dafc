"""Word lists and tables the demo month draws from: names, addresses, brands, bank traffic.

The reason codes are the demo's pick (with weights) of those in `reason_codes.csv`. No value
holds a quote or a backslash: values are pasted into JSON text as they are.
"""

from __future__ import annotations

import numpy as np

# fmt: off
FIRST_DE = (
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Leon", "Emma", "Felix", "Mia", "Paul", "Lena",
    "Finn", "Hannah", "Noah", "Laura", "Elias", "Julia", "Ben", "Clara", "Max", "Sarah", "Tim",
    "Lea", "Jan", "Nina", "David", "Eva", "Tom", "Lisa", "Moritz", "Jörg", "Zoë", "Ömer", "Léa",
)
LAST_DE = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Janssen", "Dubois", "Martin", "Rossi", "Yılmaz",
    "Nowak",
)
FIRST_GB = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Olivia", "Jack", "Emily", "Charlie", "Grace",
)
LAST_GB = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts",
    "Walker",
)
STREETS_DE = (
    "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Bergstraße",
    "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Goethestraße", "Schillerstraße",
    "Am Markt", "Friedrichstraße", "Mozartweg", "Keizersgracht", "Rue de Rivoli",
    "Mariahilfer Straße",
)
CITIES_DE = (
    "10115 Berlin, DE", "20095 Hamburg, DE", "80331 München, DE", "50667 Köln, DE",
    "60311 Frankfurt am Main, DE", "70173 Stuttgart, DE", "40213 Düsseldorf, DE",
    "04109 Leipzig, DE", "44135 Dortmund, DE", "28195 Bremen, DE", "01067 Dresden, DE",
    "30159 Hannover, DE", "90402 Nürnberg, DE", "1010 Wien, AT", "1017 Amsterdam, NL",
    "75001 Paris, FR", "8001 Zürich, CH", "1000 Bruxelles, BE",
)
STREETS_GB = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Park Avenue",
)
CITIES_GB = (
    "London SW1A 1AA, GB", "Manchester M1 1AE, GB", "Birmingham B1 1BB, GB", "Leeds LS1 1UR, GB",
    "Edinburgh EH1 1YZ, GB", "Bristol BS1 4DJ, GB",
)
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")
IP_FIRST_OCTET = np.array(
    [31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 84, 85, 87, 88, 89, 91, 93, 94, 95, 109, 141, 176,
     178, 185, 188, 193, 195, 212, 213, 217],
    dtype=np.int64,
)
# fmt: on
BRANDS = ("visa", "mc", "amex", "discover")
NETWORKS = ("Visa", "Mastercard", "Amex", "Discover")
BRAND_P = (0.55, 0.35, 0.07, 0.03)
ITEM_TEXT = tuple(f"Web order, {k} item{'s' if k > 1 else ''}" for k in range(10))

# E-commerce reason codes the demo draws from (weight); each must exist in reason_codes.csv.
DEMO_CODES: dict[str, tuple[tuple[str, int], ...]] = {
    "Visa": (
        ("10.4", 9),
        ("11.3", 1),
        ("12.5", 1),
        ("12.6.1", 1),
        ("13.1", 4),
        ("13.2", 2),
        ("13.3", 3),
        ("13.6", 2),
        ("13.7", 1),
    ),
    "Mastercard": (("4837", 6), ("4863", 3), ("4808", 1), ("4834", 1), ("4853", 6)),
    "Amex": (("F29", 4), ("F24", 2), ("C08", 3), ("C31", 2), ("C02", 1), ("A02", 1), ("P08", 1)),
    "Discover": (("UA02", 4), ("AA", 2), ("RG", 3), ("RM", 2), ("RN2", 1), ("NA", 1)),
}

BANK_NAMES = {"stripe": "Stripe Payments Europe Ltd", "adyen": "Adyen N.V."}
# Unrelated bank traffic: (counterparty, text, min, max amount in minor units, sign, day or -1)
TRAFFIC: tuple[tuple[str, str, int, int, int, int], ...] = (
    ("Immobilien Verwaltung Schmidt GmbH", "MIETE BUERO {mon}", 420_000, 420_000, -1, 0),
    ("Payroll Services GmbH", "GEHAELTER {mon}", 3_800_000, 5_200_000, -1, 26),
    ("Main bank EUR", "KONTOFUEHRUNG {mon}", 2_990, 4_990, -1, 29),
    ("Finanzamt Mitte", "UST-VORANMELDUNG {prev}", 900_000, 2_500_000, -1, 9),
    ("Verpackung Nord GmbH", "RECHNUNG VN-{inv} KARTONAGEN", 45_000, 260_000, -1, -1),
    ("Logistik Express AG", "FRACHT {mon} KD 4471 RG {inv}", 120_000, 900_000, -1, -1),
    ("CloudHost Europe BV", "HOSTING {mon}", 9_900, 49_900, -1, -1),
    ("Werbeagentur Blau", "KAMPAGNE HERBST RG {inv}", 150_000, 600_000, -1, -1),
    ("Main bank EUR", "ZINSGUTSCHRIFT", 1_000, 9_000, 1, 30),
    ("Stadtwerke", "STROM ABSCHLAG {mon}", 18_000, 34_000, -1, -1),
    ("Büro Bedarf Müller", "RE {inv} BUEROMATERIAL", 3_000, 40_000, -1, -1),
    ("Versicherung AG", "BETRIEBSHAFTPFLICHT {mon}", 25_000, 25_000, -1, 14),
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
