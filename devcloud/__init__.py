"""devcloud: a small real OpenStack on 127.0.0.1 for development, CI and the demo."""
