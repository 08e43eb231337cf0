"""Smart charging: charging profiles as objects, site load management and charging schedules."""
