"""The observer: turns request traces into Prometheus metrics, summaries, alerts and decision records."""
