"""sluicegate's response cache: exact and semantic answers per tenant in Redis."""
