"""`python -m sluicegate_metering.rebuild`: recomputes bucket and spend counters from the ledger.

Reads METERING_REDIS_URL and METERING_SPEND_RETENTION_DAYS like the service. Run it after restoring Redis from
a backup or after counters were lost; it is safe while metering serves (it retries when settlements land
during the rebuild), though a busy gateway may need a quiet moment.
"""

from __future__ import annotations

import asyncio
import sys

from sluicegate.runtime.redis import create_redis
from sluicegate.runtime.settings import load_settings
from sluicegate_metering.ledger import LedgerRebuild
from sluicegate_metering.settings import MeteringSettings


async def _rebuild(settings: MeteringSettings) -> None:
    client = create_redis(settings.redis_url)
    try:
        summary = await LedgerRebuild(client, settings.spend_retention_days).rebuild()
    finally:
        await client.aclose()
    sys.stdout.write(
        f"rebuilt {summary.buckets} buckets and {summary.spend_days} tenant-days of spend from "
        f"{summary.entries} ledger entries ({summary.entries_without_buckets} without bucket ids)\n"
    )


def main() -> None:
    asyncio.run(_rebuild(load_settings(MeteringSettings)))


if __name__ == "__main__":
    main()
