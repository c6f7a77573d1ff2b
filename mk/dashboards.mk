# Dashboards generated from the metric catalogue (included by the main Makefile).
#   make dashboards         rewrite dashboards/*/ from build/bpfpush --list-metrics
#   make check-dashboards   every metric a dashboard names is in --list-metrics, every metric
#                           --list-metrics prints is on a panel of each set, and the committed
#                           JSON is what the generator writes now (no root needed)

PYTHON3 ?= python3

.PHONY: dashboards check-dashboards

dashboards: $(BUILD)/bpfpush
	$(PYTHON3) dashboards/generate.py --agent $(BUILD)/bpfpush

check-dashboards: $(BUILD)/bpfpush
	$(PYTHON3) scripts/check-dashboards.py --agent $(BUILD)/bpfpush
