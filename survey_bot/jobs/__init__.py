"""Background jobs beside the dispatcher: each is safe with several workers and hosts (see docs/architecture.md)."""
