"""sluicegate's guard: injection rules, reversible PII and secret pseudonymisation, output restoration and canary checks."""
