"""The admin credential check shared by every admin RPC."""

from __future__ import annotations

import hmac

import grpc

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied

ADMIN_TOKEN_KEY = "x-admin-token"


class AdminCheck:
    """Admits a call only when its `x-admin-token` metadata equals the configured token (constant-time).

    An empty configured token admits nobody: admin RPCs fail closed until an operator sets one.
    """

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def require(self, context: grpc.aio.ServicerContext) -> None:
        presented = b""
        for key, value in context.invocation_metadata() or ():
            if key == ADMIN_TOKEN_KEY:
                presented = value.encode() if isinstance(value, str) else value
                break
        if not self._token or not hmac.compare_digest(presented, self._token):
            raise denied(
                grpc.StatusCode.PERMISSION_DENIED,
                errors_pb2.ERROR_REASON_ADMIN_REQUIRED,
                f"this call needs the admin credential in the `{ADMIN_TOKEN_KEY}` metadata",
            )
