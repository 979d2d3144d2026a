# Two commands for a newcomer (see README):
#   make demo   set up, then train a (conditional) DCGAN on MNIST for 5 minutes and write the training GIF
#   make test   set up, then run the unit tests, the CLI end-to-end test and every notebook
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKENDS_STAMP := $(VENV)/.installed-backends
DEMO_SECONDS ?= 300

.PHONY: setup setup-backends demo test test-slow benchmark clean

setup: $(STAMP)
setup-backends: $(BACKENDS_STAMP)

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# JAX and PyTorch (CPU builds) too, so the tests run on all three Keras backends, and the
# autograders (nbgrader, otter-grader) the assignment kit is tested in.
$(BACKENDS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,backends,grading]"
	touch $(BACKENDS_STAMP)

demo: setup
	$(BIN)/python -m gan_keras train --dataset mnist --source bundled --max-seconds $(DEMO_SECONDS) --epochs 1000 --sample-every 5 \
		--out runs/demo-$$(date +%Y%m%d-%H%M%S)

# Tests marked slow (long measurements, e.g. mode collapse over 8 seeds) run with `make test-slow`.
# Two pytest workers (pytest-xdist), each test file on one of them (--dist loadfile: a file's
# module-scoped fixtures, such as one backend's subprocess of checks, run once): most tests wait on
# subprocesses and compilers, so two workers share two cores well.
TEST_WORKERS ?= 2
test: setup-backends
	GAN_KERAS_QUICK=1 GAN_KERAS_REQUIRE_BACKENDS=1 GAN_KERAS_REQUIRE_GRADERS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --nbmake tests notebooks -m "not slow"

test-slow: setup-backends
	$(BIN)/python -m pytest tests -m slow

benchmark: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache
