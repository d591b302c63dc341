"""The orchestrator: sluicegate's public GatewayService, chaining every other service for each request."""
