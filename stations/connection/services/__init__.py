"""Writes of the charger connection: the command queue, presence, the message log, security and violation reports."""
