"""Venue adapters: the interface every venue speaks, and realistic simulated venues."""
