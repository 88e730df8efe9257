# FlexLedger: `make demo` and `make test` set up .venv themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test fuzz bench soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "FlexLedger needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m cli.main demo

test: $(STAMP)
	$(VENV)/bin/pytest -q

# The fuzz targets of tests/fuzz with the same fixed (derandomized) inputs as in `make test`, and
# more of them: FUZZ_EXAMPLES per target. Prints inputs tried per second for each target.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FLEXLEDGER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q tests/fuzz

bench: $(STAMP)
	$(PY) bench/bench_transfers.py
	$(PY) bench/bench_vm.py
	$(PY) bench/bench_gas_calibration.py
	$(PY) bench/bench_queries.py
	$(PY) bench/bench_smt.py
	$(PY) bench/bench_verify.py
	$(PY) bench/bench_testnet.py
	$(PY) bench/bench_clearing.py
	$(PY) bench/bench_grid.py

soak: $(STAMP)
	$(PY) -m testnet.faultrun --seconds 300 --seed 7

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
