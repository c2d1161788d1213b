# Longer property-based fuzzing of every RPC against a running desk; `make test` runs 200 examples per RPC.
FUZZ_EXAMPLES ?= 3000

fuzz: venv
	TD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/security/test_fuzz.py

.PHONY: fuzz
