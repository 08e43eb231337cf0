"""Writes of the network: stations and locations, station passwords and boot, connector status."""
