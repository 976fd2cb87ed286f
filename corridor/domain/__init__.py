"""Plain domain rules: no I/O, no framework."""
