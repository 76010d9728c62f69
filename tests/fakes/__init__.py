"""Stand-ins for tools this machine cannot run (they record calls and keep state)."""
