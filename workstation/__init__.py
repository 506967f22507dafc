"""Reconciliation & dispute workstation for payments back-office teams."""

__version__ = "0.1.0"
APP_NAME = "Workstation"
ORG_NAME = "Workstation"
