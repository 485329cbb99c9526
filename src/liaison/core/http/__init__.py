"""Outbound HTTP for every integration (ARCHITECTURE.md, "Outbound HTTP")."""

from liaison.core.http.audit import CallAudit, CallRecord
from liaison.core.http.auth import (
    Auth,
    BasicAuth,
    DbTokenStore,
    MemoryTokenStore,
    NoAuth,
    OAuth2Auth,
    SessionAuth,
    Token,
)
from liaison.core.http.budget import Budget
from liaison.core.http.client import Client, Response, default_error_parser
from liaison.core.http.errors import BudgetExhausted, ErrorInfo, MalformedResponse, ProviderError
from liaison.core.http.keys import InvalidKey, as_key
from liaison.core.http.retry import DEFAULT_RETRY_TABLE, Action, RetryRule

__all__ = [
    "DEFAULT_RETRY_TABLE",
    "Action",
    "Auth",
    "BasicAuth",
    "Budget",
    "BudgetExhausted",
    "CallAudit",
    "CallRecord",
    "Client",
    "DbTokenStore",
    "ErrorInfo",
    "InvalidKey",
    "MalformedResponse",
    "MemoryTokenStore",
    "NoAuth",
    "OAuth2Auth",
    "ProviderError",
    "Response",
    "RetryRule",
    "SessionAuth",
    "Token",
    "as_key",
    "default_error_parser",
]
