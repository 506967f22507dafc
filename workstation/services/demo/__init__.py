"""Demo data: a deterministic merchant month (orders, Stripe/Adyen settlements, bank, disputes).

May import every other domain (it stores through the same ingest path as a real import); nothing
imports it but the CLI, the first-start offer and the tests.
"""
