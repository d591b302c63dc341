"""Makes the fake downstreams available as the `fakes` fixture."""

from orchestrator_fakes import fakes  # noqa: F401 - a fixture, used by name
