"""The host near the user: MQTT bus, workout sessions, store, wearables, cues and the CLI."""
