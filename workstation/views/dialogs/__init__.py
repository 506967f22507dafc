"""Dialogs: import preview, about."""
