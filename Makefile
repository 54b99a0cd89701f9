# The README's commands. `make demo` and `make test` set everything up on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
# On a machine without an NVIDIA GPU take the CPU build of torch (no ~3 GB CUDA download). Here
# torch==2.13.0 is the CPU wheel lying on the machine; elsewhere set TORCH_SPEC (and pip's index) to a CPU build.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.4' || echo 'torch==2.13.0')

.PHONY: demo test bench install clean system-demo system-test

# System packages, installed when missing (apt-get; sudo when not root): PortAudio for the sound, and for
# the tests JACK and Xvfb too. Elsewhere it stops with one line saying what to install.
system-demo:
	@PYTHON=$(PYTHON) VENV=$(VENV) tools/system-packages demo
system-test:
	@PYTHON=$(PYTHON) VENV=$(VENV) tools/system-packages test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: system-demo $(VENV)/.installed

# The main job: a live show on the bundled model and the embedded synth (headless + demo.mp4 without a
# display). More options through ARGS, e.g. make demo ARGS="--duration 60 --config my.toml".
demo: system-demo $(VENV)/.installed
	$(PY) -m engine perform --demo $(ARGS)

# The whole suite as CI runs it: on a JACK dummy server and a virtual display of its own; -rfEs lists
# a test skipped. ARGS goes to pytest, e.g. make test ARGS="-k osc -x" (a part, stop at the first failure).
# A suite that hangs (where pytest-timeout cannot reach, e.g. a lost GIL) is ended after 40 minutes; it
# takes 7 here, and pytest's faulthandler has printed the stuck test's stacks by then.
test: system-test $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 tools/with-jack-and-x timeout --foreground -k 30 2400 $(PY) -m pytest -q -rfEs $(ARGS)

# The benchmarks behind docs/benchmarks.md, on the same JACK dummy server and virtual display as the tests.
bench: system-test $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 tools/with-jack-and-x $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
