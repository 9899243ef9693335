# The two commands: `make run` and `make test`. Both create .venv from the locked
# constraints when it is missing or older than pyproject.toml / constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,ray]'
	@touch $(STAMP)

# Bytecode is compiled up front and kept even where PYTHONDONTWRITEBYTECODE is set: every
# command (and each of the suite's hundreds of `main.py` processes) would otherwise compile
# the whole package from source at every start (about 0.4 s each).
COMPILE := $(BIN)/python -m compileall -q -j 2 workstation brokers plugins themes main.py

run: $(STAMP)
	@$(COMPILE) >/dev/null
	$(BIN)/python main.py $(ARGS)

test: $(STAMP)
	@$(COMPILE) tests >/dev/null
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 2 --dist worksteal -q $(PYTEST_ARGS)

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

# Re-resolve the whole dependency set together and rewrite the lock.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[test,ray]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^workstation' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV)
