"""The network: locations, stations, EVSEs and connectors, their registration, passwords and connector status."""
