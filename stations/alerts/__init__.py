"""Alerts: faults and offline stations, their acknowledgement and the mails to operators."""
