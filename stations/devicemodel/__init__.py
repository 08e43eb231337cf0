"""The OCPP 2.0.1 device model of each station and what 2.0.1 stations report about themselves."""
