"""The operator dashboard: pages, their selectors, the station action buttons and the live feed."""
