"""Exports: spreadsheets (XLSX/CSV), dispute packages (PDF/ZIP) and chart data."""
