"""The actions: plain async functions over a session, raising typed domain errors."""
