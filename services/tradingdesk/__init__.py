"""tradingdesk: a Kubernetes-native institutional trading desk."""

__version__ = "0.1.0"
