"""`python -m sluicegate_metering.export --tenant acme --format csv`: a tenant's spend as CSV or JSON.

Calls the admin RPC `ExportSpend` (rows per day, team, key, user and model) and, with `--group-by`, sums them
over the columns not named, for example `--group-by day,model`. The admin token comes from `--admin-token` or
METERING_ADMIN_TOKEN, the address from `--address` or METERING_ADDR (default 127.0.0.1:50064).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import Sequence

from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.channels import create_channel

GROUP_COLUMNS = ("day", "tenant_id", "team_id", "key_id", "user_id", "model")
METRIC_COLUMNS = ("spent_micros_usd", "requests", "prompt_tokens", "completion_tokens")
ADMIN_SERVICE = "sluicegate.metering.v1.MeteringAdminService"


def grouped(rows: Sequence[metering_pb2.SpendExportRow], columns: Sequence[str]) -> list[dict[str, object]]:
    """Rows summed over every grouping column not in `columns`, in the order the groups first appear."""
    totals: dict[tuple[str, ...], dict[str, object]] = {}
    for row in rows:
        group = tuple(getattr(row, column) for column in columns)
        total = totals.setdefault(group, {**dict(zip(columns, group, strict=True)), **dict.fromkeys(METRIC_COLUMNS, 0)})
        for metric in METRIC_COLUMNS:
            total[metric] += getattr(row, metric)
    return list(totals.values())


def render(rows: list[dict[str, object]], columns: Sequence[str], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*columns, *METRIC_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


async def export_spend(
    address: str,
    admin_token: str,
    tenant_id: str,
    start_day: str = "",
    end_day: str = "",
    columns: Sequence[str] = GROUP_COLUMNS,
    output_format: str = "csv",
    timeout_seconds: float = 30.0,
) -> str:
    """The tenant's spend over the days, grouped by `columns`, as CSV or JSON text."""
    channel = create_channel(address, [ADMIN_SERVICE], timeout_seconds)
    try:
        response = await metering_pb2_grpc.MeteringAdminServiceStub(channel).ExportSpend(
            metering_pb2.ExportSpendRequest(tenant_id=tenant_id, start_day=start_day, end_day=end_day),
            metadata=[("x-admin-token", admin_token)],
        )
    finally:
        await channel.close()
    return render(grouped(response.rows, columns), columns, output_format)


def _columns(value: str) -> list[str]:
    columns = [column.strip() for column in value.split(",") if column.strip()]
    unknown = sorted(set(columns) - set(GROUP_COLUMNS))
    if unknown or not columns:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(GROUP_COLUMNS)}; got {value!r}")
    return columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", required=True, help="the tenant id")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--start-day", default="", help="first UTC day, YYYY-MM-DD (default today)")
    parser.add_argument("--end-day", default="", help="last UTC day, YYYY-MM-DD (default today)")
    parser.add_argument("--group-by", type=_columns, default=list(GROUP_COLUMNS), help="comma-separated columns")
    parser.add_argument("--address", default=os.environ.get("METERING_ADDR", "127.0.0.1:50064"))
    parser.add_argument("--admin-token", default=os.environ.get("METERING_ADMIN_TOKEN", ""))
    arguments = parser.parse_args()
    text = asyncio.run(
        export_spend(
            arguments.address,
            arguments.admin_token,
            arguments.tenant,
            arguments.start_day,
            arguments.end_day,
            arguments.group_by,
            arguments.format,
        )
    )
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
