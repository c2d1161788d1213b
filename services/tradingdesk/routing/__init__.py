"""The routing service: order entry, the OMS, the in-process risk gate and the venues."""
