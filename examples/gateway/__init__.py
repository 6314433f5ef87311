"""A flaky payment gateway for the example apps: a small local HTTP server
(standard library only) that fails, stalls and rate-limits on demand, and
charges each idempotency key at most once. See :mod:`gateway.server`."""
