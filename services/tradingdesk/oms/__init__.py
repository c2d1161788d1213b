"""Order management: validation, the event-sourced order engine, positions and routing."""
