"""The gate, the audit log, sealed fields and keys, retention, accounts."""
