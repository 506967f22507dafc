"""Dispute desk tests."""
