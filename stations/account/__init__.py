"""The driver's account pages: charging now, starting and stopping, history."""
