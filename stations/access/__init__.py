"""Who may charge where: private-station access lists and the stations' local authorization lists."""
