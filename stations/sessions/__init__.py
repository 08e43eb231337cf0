"""Charging sessions and metering: transactions started, metered and stopped by the stations."""
