"""The movement log and transport manifests."""
