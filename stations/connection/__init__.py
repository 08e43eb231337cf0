"""The charger connection: the OCPP WebSocket consumer, the durable command queue, presence and the message log."""
