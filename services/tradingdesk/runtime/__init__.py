"""Running services: one gRPC server per service, and the embedded runtime that starts all five."""
