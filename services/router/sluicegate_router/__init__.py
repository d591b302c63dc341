"""sluicegate's router: picks a deployment per request and calls it through litellm along a fallback chain."""
