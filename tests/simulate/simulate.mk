# A full production day: `tradingdesk simulate` over the whole session of $(DESK) at 5x (SIM_SPEED) with the day's fault
# schedule, routing with a hot standby and the outage spool; its figures go to bench/results.json (sim_day_*). About 81
# minutes on a quiet 2-core machine. Not part of `make test` (the short run is).
# Include from the main Makefile:   include tests/simulate/simulate.mk
#
#   make simulate-day                       the day, record and report in $(SIM_DAY_OUT)
#   make simulate-day SIM_SPEED=100 SIM_ROUTING_REPLICAS=1
#                                           a five-minute look at the day (1 to 100x; at 100x a 2-core machine
#                                           cannot keep the desk, its standby and the clients up: docs/simulation.md)
#   make simulate-day SIM_RATE=400          another strategy order rate (orders/s, wall time)
#   make simulate-day SIM_OUTAGE_SPOOL=0    routing refuses new orders through the database outage instead of
#                                           acknowledging them from its spool (spec.routing.outageSpool)

SIM_DAY_OUT ?= var/sim-day
SIM_DAY_FAULTS ?= examples/faults-day.yaml
SIM_RATE ?= 200
SIM_SPEED ?= 5
# a hot standby: the day's SIGKILL of routing is a takeover (the run is on PostgreSQL: the day's database_down)
SIM_ROUTING_REPLICAS ?= 2
# routing acknowledges through the day's database outage from its spool (a routing standby takes it over with the journal)
SIM_OUTAGE_SPOOL ?= 1

.PHONY: simulate-day

# The verdict's exit status is kept: the figures are written either way, then a failed line fails the target.
simulate-day: venv
	rm -rf $(SIM_DAY_OUT)
	$(BIN)/tradingdesk simulate -f $(DESK) --out $(SIM_DAY_OUT) --speed $(SIM_SPEED) --rate $(SIM_RATE) \
		--faults $(SIM_DAY_FAULTS) --routing-replicas $(SIM_ROUTING_REPLICAS) \
		$(if $(filter 1,$(SIM_OUTAGE_SPOOL)),--outage-spool); status=$$?; \
	$(BIN)/python -m bench.simulate_day $(SIM_DAY_OUT) && exit $$status
