"""Checks on the names that end up inside Redis keys (tenant, namespace, entry id) and namespace resolution.

Names are limited to letters, digits, `.`, `_` and `-` (1 to 128 characters, starting with a letter or digit):
no `:` (the key separator), no `{` `}` (the cluster hash tag) and nothing SCAN's glob patterns treat specially.
"""

from __future__ import annotations

import re

from sluicegate.runtime.errors import invalid_argument
from sluicegate_cache.canonical import DEFAULT_NAMESPACE

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ENTRY_ID = re.compile(r"[0-9a-f]{64}")


def name_problem(value: str) -> str | None:
    """Why `value` cannot name a tenant or namespace, or None when it can."""
    if not value:
        return "required"
    if not _NAME.fullmatch(value):
        return "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def entry_id_problem(value: str) -> str | None:
    """Why `value` is not an entry id (a SHA-256 in lower-case hex), or None when it is."""
    return None if _ENTRY_ID.fullmatch(value) else "must be 64 lower-case hex characters"


def namespace_problem(key_namespace: str, control_namespace: str) -> str | None:
    """Why the request's namespace (given in the key, the control, or both) is unusable, or None."""
    if key_namespace and control_namespace and key_namespace != control_namespace:
        return "key.namespace and control.namespace differ"
    chosen = key_namespace or control_namespace
    return name_problem(chosen) if chosen else None


def require_name(value: str, field: str) -> str:
    """`value` when it can name a tenant or namespace, else INVALID_ARGUMENT naming `field`.

    A missing tenant id is an error, never a fall-back to some shared default partition.
    """
    problem = name_problem(value)
    if problem:
        raise invalid_argument({field: problem})
    return value


def require_entry_id(value: str, field: str = "entry_id") -> str:
    problem = entry_id_problem(value)
    if problem:
        raise invalid_argument({field: problem})
    return value


def resolve_namespace(key_namespace: str, control_namespace: str, field: str = "key.namespace") -> str:
    """The namespace a request uses: the key's, else the control's, else "default"."""
    problem = namespace_problem(key_namespace, control_namespace)
    if problem:
        raise invalid_argument({field: problem})
    return key_namespace or control_namespace or DEFAULT_NAMESPACE
