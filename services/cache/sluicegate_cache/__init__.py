"""sluicegate's response cache: exact answers per tenant in Redis, with room for a semantic layer."""
