"""Data in and out: imports, exports to partners, reports."""
