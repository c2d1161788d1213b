"""What every service edge shares: where services listen, subscriptions that reconnect, and how a domain
``Reject`` becomes a gRPC status. The only place below the services that speaks gRPC."""
