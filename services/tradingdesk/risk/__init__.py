"""Risk: the in-process pre-trade gate and the risk service that feeds it."""
