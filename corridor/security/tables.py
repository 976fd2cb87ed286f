"""The security tables (users, sessions, tokens, the audit chain, site keys, rate limits,
disposal log, export requests), as the security code imports them. They are declared in
``corridor.storage.security_tables`` with the rest of the schema: storage imports nothing
from security, and this module only names them here."""

from __future__ import annotations

from corridor.storage.security_tables import HASH as HASH
from corridor.storage.security_tables import SECURITY_TABLES as SECURITY_TABLES
from corridor.storage.security_tables import alerts as alerts
from corridor.storage.security_tables import api_tokens as api_tokens
from corridor.storage.security_tables import audit_events as audit_events
from corridor.storage.security_tables import disposal_log as disposal_log
from corridor.storage.security_tables import export_requests as export_requests
from corridor.storage.security_tables import rate_events as rate_events
from corridor.storage.security_tables import security_metadata as security_metadata
from corridor.storage.security_tables import sessions as sessions
from corridor.storage.security_tables import site_keys as site_keys
from corridor.storage.security_tables import user_roles as user_roles
from corridor.storage.security_tables import user_sites as user_sites
from corridor.storage.security_tables import users as users
