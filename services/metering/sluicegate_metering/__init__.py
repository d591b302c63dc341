"""sluicegate's metering service: API keys, budgets, atomic reservations, settlement and spend reports."""
