"""Settlement views: the money trail widget and the parts of the Payouts page."""
