# The README's commands. `make demo` and `make test` set everything up on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
# On a machine without an NVIDIA GPU take the CPU build of torch (no ~3 GB CUDA download). Here
# torch==2.13.0 is the CPU wheel lying on the machine; elsewhere set TORCH_SPEC (and pip's index) to a CPU build.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.4' || echo 'torch==2.13.0')

.PHONY: demo test bench install clean

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

install: $(VENV)/.installed

# The main job: a live show on the bundled model and the embedded synth (headless + demo.mp4 without a display).
demo: $(VENV)/.installed
	$(PY) -m engine perform --demo

test: $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
