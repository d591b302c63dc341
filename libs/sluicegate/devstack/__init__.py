"""Run the whole stack as plain processes: the local launcher, also used by the integration and e2e tests."""
