# Two commands for a newcomer (see README):
#   make demo   set up, then train a (conditional) DCGAN on MNIST for 5 minutes and write the training GIF
#   make test   set up, then run the unit tests, the CLI end-to-end test and every notebook
#   make book   set up, then build the course website from the README, docs/ and the executed notebooks
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKENDS_STAMP := $(VENV)/.installed-backends
DEMO_SECONDS ?= 300

.PHONY: setup setup-backends demo test test-floors test-slow benchmark book clean

setup: $(STAMP)
setup-backends: $(BACKENDS_STAMP)

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# JAX and PyTorch (CPU builds) too, so the tests run on all three Keras backends, the
# autograders (nbgrader, otter-grader) the assignment kit is tested in, and the website's tools
# (Sphinx, myst-nb, Playwright; the browser itself is the system's chromium: .ci/run installs it).
$(BACKENDS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,backends,grading,book]"
	touch $(BACKENDS_STAMP)

demo: setup
	$(BIN)/python -m gan_keras train --dataset mnist --source bundled --max-seconds $(DEMO_SECONDS) --epochs 1000 --sample-every 5 \
		--out runs/demo-$$(date +%Y%m%d-%H%M%S)

# The course website (docs/book.md): build/book/html, every notebook executed with its defaults
# (minutes each; jupyter-cache reruns only a notebook whose code changed). GAN_KERAS_QUICK=1 make book
# builds the quick-mode site into build/book-quick/html instead; `make test` builds that one.
book: setup-backends
	$(BIN)/python book/build.py

# Tests marked slow (long measurements, e.g. mode collapse over 8 seeds) run with `make test-slow`.
# Two pytest workers (pytest-xdist), each test file on one of them (--dist loadfile: a file's
# module-scoped fixtures, such as one backend's subprocess of checks, run once): most tests wait on
# subprocesses and compilers, so two workers share two cores well.
# The notebooks run once, in tests/test_book.py's quick build of the website (a cell's error fails
# it), on one worker while the other runs the rest; its browser tests are required here.
# The floor venv (below) is installed meanwhile, in the background: pip waits on downloads and disk
# more than on the cores, and this takes its minutes off `make test`.
TEST_WORKERS ?= 2
test: setup-backends
	@$(MAKE) --no-print-directory $(FLOORS_STAMP) > $(VENV)/floors-install.log 2>&1 & floors=$$!; \
	GAN_KERAS_QUICK=1 GAN_KERAS_REQUIRE_BACKENDS=1 GAN_KERAS_REQUIRE_GRADERS=1 GAN_KERAS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests -m "not slow"; \
	status=$$?; \
	if ! wait $$floors; then cat $(VENV)/floors-install.log; echo "installing the floor venv failed"; exit 1; fi; \
	exit $$status
	$(MAKE) --no-print-directory test-floors

# The oldest versions pyproject.toml allows, tested: a second venv where every `name>=X` among the
# dependencies is pinned to `name==X` (e.g. tensorflow==2.16.2, keras==3.3.3, numpy==1.26), so a
# declared floor is always one the tests passed on. It runs a focused subset: core training, the CLI
# end to end, saving and loading, resuming a killed run, the evaluator (docs/install.md: versions).
FLOORS_VENV ?= $(VENV)/floors
FLOORS_STAMP := $(FLOORS_VENV)/.installed
FLOORS_TESTS := \
	tests/test_gan.py::test_train_step_gives_the_same_update_eagerly_and_compiled \
	tests/test_gan.py::test_conditional_gan_trains_on_labelled_batches \
	tests/test_gan.py::test_conditional_wgan_gp_step_trains_both_networks \
	tests/test_cli.py::test_train_writes_every_output \
	tests/test_cli.py::test_history_records_the_evaluation \
	tests/test_cli.py::test_sample_writes_png_and_npy \
	"tests/test_cli.py::test_train_other_models_end_to_end[vae-extra1]" \
	tests/test_reliability.py::test_gan_round_trips_through_the_keras_format \
	tests/test_vae_latent.py::test_saved_and_reloaded_vae_generates_the_same_images \
	tests/test_long_runs.py::test_backup_restores_optimizers_and_every_seed_generator \
	tests/test_long_runs.py::test_killed_train_resumes_and_ends_with_every_epoch_and_frame \
	tests/test_evaluation.py::test_evaluator_loads_offline_and_reaches_its_recorded_accuracy \
	tests/test_evaluation.py::test_evaluation_callback_records_figures_only_for_evaluated_epochs

$(FLOORS_STAMP): pyproject.toml
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	sed -n '/^dependencies = \[/,/^\]/s/^ *"\([A-Za-z0-9_.-]*\)>=\([^",]*\).*/\1==\2/p' pyproject.toml > $(FLOORS_VENV)/floors.txt
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c $(FLOORS_VENV)/floors.txt -e . "pytest>=8"
	touch $(FLOORS_STAMP)

test-floors: $(FLOORS_STAMP)
	@cat $(FLOORS_VENV)/floors.txt | tr '\n' ' '; echo
	$(FLOORS_VENV)/bin/python -m pytest -p no:cacheprovider $(FLOORS_TESTS)

test-slow: setup-backends
	$(BIN)/python -m pytest tests -m slow

benchmark: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache
