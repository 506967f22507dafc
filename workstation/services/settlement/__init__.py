"""Settlement: payouts as objects, the money trail from order to bank, and the month-end proof.

Payouts are derived from the PSP lines (`payout_build`, run by imports and their undo); the
payout <-> bank matching itself is a reconciliation rule (services.reconcile.matchers.payout) that
writes level-2 matches with their payouts in `match_payouts`. This domain reads matches through
the store, never through reconcile or disputes code, so both of them may use it (the trail gives a
dispute its order).
"""
