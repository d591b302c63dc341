"""What a live reservation holds and where, and the reservations this replica made, kept until they end here."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate_metering.records import Principal

# How many reservations a replica remembers at most (the oldest are dropped first).
MAX_REMEMBERED = 20_000


@dataclass(frozen=True)
class HeldReservation:
    """A live reservation's facts as authorize wrote them: whose it is, what it holds and where. None of them
    changes while the reservation lives (its amount may grow, and the scripts read that from the holds)."""

    principal: Principal
    model: str
    request_id: str
    buckets: list[str]
    limits: list[int]
    rate_windows: list[str]
    rate_tokens: int


class RecentHolds:
    """The reservations this replica made, so ReportUsage, Settle and Release of them need not read their records
    back from Redis. Only the unchanging facts are kept: whether a reservation still holds money is decided by
    the scripts alone, so an entry outliving its reservation (settled elsewhere, reclaimed) does no harm, and
    one dropped early only costs a read. Entries are dropped when ended here, past their expiry, or oldest
    first beyond `max_entries`."""

    def __init__(self, max_entries: int = MAX_REMEMBERED) -> None:
        self._max_entries = max_entries
        # Insertion order is expiry order: every reservation lives the same TTL from its authorization.
        self._entries: dict[str, tuple[float, HeldReservation]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, reservation_id: str, held: HeldReservation, expires_at: float, now: float) -> None:
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest][0] > now and len(entries) < self._max_entries:
                break
            del entries[oldest]
        entries[reservation_id] = (expires_at, held)

    def get(self, reservation_id: str) -> HeldReservation | None:
        entry = self._entries.get(reservation_id)
        return None if entry is None else entry[1]

    def forget(self, reservation_id: str) -> HeldReservation | None:
        entry = self._entries.pop(reservation_id, None)
        return None if entry is None else entry[1]
