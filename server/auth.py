"""Who may call: the bearer-token check and the rule for exposing the server beyond loopback.

With ``--token T`` every call but health checks needs ``authorization: Bearer T`` metadata,
compared in constant time (``hmac.compare_digest``). Without a token every call, ingest and
delete included, is open to whoever reaches the port: fine on loopback, so the server refuses
to bind any other address without a token unless ``--insecure`` says so. A token sent without
TLS can be read on the network, so a token without ``--tls-cert`` on a non-loopback address is
warned about.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import grpc

log = logging.getLogger("motionsearch.server")


class TokenAuth(grpc.ServerInterceptor):
    """Require ``authorization: Bearer TOKEN`` metadata on every call except health checks."""

    def __init__(self, token: str) -> None:
        self.expected = f"Bearer {token}".encode()

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token (metadata authorization: Bearer …)")

        self.deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith("/grpc.health."):
            return continuation(handler_call_details)
        sent = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        sent = sent.encode("utf-8", "replace") if isinstance(sent, str) else bytes(sent)
        if hmac.compare_digest(sent, self.expected):
            return continuation(handler_call_details)
        return self.deny


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` binds only the loopback interface (127.0.0.0/8, ::1, localhost)."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_exposure(address: str, token: str | None, tls: bool, insecure: bool) -> None:
    """Refuse (SystemExit) an open server on a non-loopback address; warn about a token sent in clear."""
    if is_loopback(address):
        return
    if not token and not insecure:
        raise SystemExit(f"refusing to serve {address} without --token: every call, ingest and delete included, "
                         "would be open to the network (pass --insecure to do it anyway)")  # fmt: skip
    if not token:
        log.warning("serving %s without a token (--insecure): anyone who reaches it can ingest and delete", address)
    elif not tls:
        log.warning("serving %s with a token but without TLS: the token travels in clear; add --tls-cert/--tls-key",
                    address)  # fmt: skip
