# mpi-render: the commands a person (and CI) runs. Every target bootstraps what it needs first
# (scripts/bootstrap.sh: apt packages only when missing, the venv .venv, pip install -e), so each
# works on a fresh Debian 12 machine as root with only python3, venv, pip, make and git.
#
#   make demo  [DEMO_ARGS="--grid 8 --tile 256"]   the local two-site demo (prints the URL)
#   make test                                       every test stage, with timings; non-zero if any fails
#   make bench [BENCH_ARGS=--quick]                 every bench/ script (bench/run_all.py), ratios
#   make thumbnail                                  thumbnail.png, rendered by the project itself
#   make venv                                       only the venv

VENV      ?= .venv
PY        := $(VENV)/bin/python
MPIEXEC   := $(VENV)/bin/mpiexec
# The default demo is a deep view sized to be watched: Dinkydau's flake (width 1.7e-157, max_iter
# 50,000, rendered by perturbation), 16 x 16 tiles of 256 px, 30-31 s on 2 quiet cores (the full
# view at the CLI defaults is done in ~2 s; --location seahorse is the previous default).
DEMO_ARGS ?= --location flake --grid 16 --tile 256 --palette cosmic
# Wall-clock cap for one MPI stage (a hung rank must not hang CI); pytest-timeout caps each test.
MPI_STAGE_TIMEOUT_S ?= 900
FAILED    := $(VENV)/.make-test-failed

BOOTSTRAP := MPI_RENDER_VENV=$(abspath $(VENV)) bash scripts/bootstrap.sh

.PHONY: venv demo test bench thumbnail

venv:
	@$(BOOTSTRAP) demo

demo:
	@$(BOOTSTRAP) demo
	$(VENV)/bin/mpi-render-demo $(DEMO_ARGS)

# $(call stage,NAME,COMMAND): run COMMAND, print its wall time and exit code, and remember a
# failure instead of stopping, so one red stage still lets the others report.
stage = start=$$(date +%s); $(2); rc=$$?; \
	echo "== stage '$(1)': exit $$rc after $$(( $$(date +%s) - start )) s"; \
	[ $$rc -eq 0 ] || echo "$(1) (exit $$rc)" >> $(FAILED)


test:
	@start=$$(date +%s); $(BOOTSTRAP) test || exit 1; \
	echo "== stage 'bootstrap': $$(( $$(date +%s) - start )) s"
	@rm -f $(FAILED)
	@$(call stage,pytest not mpi,$(PY) -m pytest -m "not mpi" tests)
	@$(call stage,mpi -n 2,bash scripts/test-mpi.sh $(VENV) 2 $(MPI_STAGE_TIMEOUT_S))
	@$(call stage,mpi -n 4,bash scripts/test-mpi.sh $(VENV) 4 $(MPI_STAGE_TIMEOUT_S))
	@if [ -s $(FAILED) ]; then echo "== FAILED stages:"; sed 's/^/   /' $(FAILED); \
	  rm -f $(FAILED); exit 1; fi; echo "== all test stages passed"

bench:
	@$(BOOTSTRAP) bench
	$(PY) bench/run_all.py $(BENCH_ARGS)

# The workflow's catalogue picture: 4 x 4 tiles of 128 px rendered by mpi-render itself (two ranks,
# --out only, nothing posted), then stitched into one 512 px PNG.
THUMB_DIR   := build/thumbnail
THUMB_FLAGS := --grid 4 --tile 128 --palette electric --max-iter 256 --site thumb --sites thumb

thumbnail:
	@$(BOOTSTRAP) demo
	rm -rf $(THUMB_DIR)
	$(MPIEXEC) -n 2 $(PY) -m mpi4py -m mpi_render $(THUMB_FLAGS) --out $(THUMB_DIR)
	$(PY) scripts/mosaic.py $(THUMB_DIR) 4 thumbnail.png
