"""The tradingdesk command line."""
