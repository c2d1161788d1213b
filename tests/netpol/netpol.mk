# The NetworkPolicy analyser the tests use (cyclonus's matcher, built from the Go module proxy; see build.sh).
#   make netpol-build   build or reuse ~/.cache/tradingdesk/cyclonus-<version>/bin/netpol-query
.PHONY: netpol-build
netpol-build:
	bash tests/netpol/build.sh
