"""Site nodes and the central registry (issue 16): the change log, node identity and
enrolment, and bundles. See docs/sync.md."""
