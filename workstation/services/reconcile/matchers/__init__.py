"""The rule kinds of the cascade, one module each, as vectorised functions over the working set.

`reference`: shared reference token (exact stored token; or normalised: leading zeros inside ids,
truncated ids by prefix); `payout`: one bank credit for one PSP payout batch; `fx`: reference
pairs whose amounts differ by the PSP fee or an exchange rate; `window`: amount + date window;
`subset`: one record equal to the sum of 2..k narrowed candidates. Every function proposes through
`Work.propose` and returns the counts of what it proposed (`proposals.Counts`). Token pairs and
amount/date pairs, which several rules share, are `token_pairs` and `nearest_pairs`.
"""

from __future__ import annotations

from collections.abc import Callable

from . import fx, payout, reference, subset, window
from .proposals import Counts

MATCHERS: dict[str, Callable[..., Counts]] = {
    "reference": reference.reference,
    "payout": payout.payout,
    "fx": fx.fx,
    "window": window.window,
    "subset": subset.subset,
}
