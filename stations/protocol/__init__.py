"""The OCPP protocol layer: framing and error codes per version, and the per-version handlers that
map OCPP payloads onto the stations services (docs/architecture.md)."""
