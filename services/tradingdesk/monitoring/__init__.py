"""The monitoring service: health of the whole desk."""
