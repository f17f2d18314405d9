# moebench: one Makefile for the program, the tests and the demo.
#   make            build build/moebench
#   make test       build and run every test (last line: N passed, N failed, N skipped)
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-san/)
#   make fuzz       each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (clang; docs/fuzzing.md)
#   make demo       the main job on the built-in default scenario: results/demo/, REPORT-demo.md,
#                   plots/figures/demo/ (all ignored by git: the committed references stay as they are)
#   make paper      the paper's tables from models trained here (scripts/paper.sh): results/paper-small.csv,
#                   REPORT.md; models in PAPER_DIR (~/.cache/moebench/paper). QUICK=1: every step, tiny budget
#   make report     REPORT.md and plots/figures/ again from every committed results/*.csv
#   make install    build/moebench and what it reads at run time under $(PREFIX) (default /usr/local)
#   make deps       install missing Debian packages (scripts/deps.sh)

# Parallel by default (one job per core); a -jN on the command line still
# wins. Only at the top: sub-makes share the top make's job slots.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

CC      ?= gcc
CXX     ?= g++
SAN     ?= 0
BUILD   ?= build
OPT     ?= -O2
# Optional backends (ref is always built): make WITH_OPENBLAS=0 / WITH_ONEDNN=0
# builds without that library, in its own build folder; tests that need it skip.
WITH_OPENBLAS ?= 1
WITH_ONEDNN   ?= 1

ifeq ($(SAN),1)
BUILD    = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# `make fuzz` builds with clang's libFuzzer (see the fuzz target below).
ifeq ($(FUZZ),1)
CC       = clang
CXX      = clang++
BUILD    = build-fuzz
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     = libcjson inih papi zlib
BACKEND_LIBS =
BACKEND_OUT  =
ifeq ($(WITH_OPENBLAS),1)
PKGS    += openblas
else
BACKEND_OUT += backends/openblas.c
BUILD   := $(BUILD)-noopenblas
endif
ifeq ($(WITH_ONEDNN),1)
BACKEND_LIBS += -ldnnl
else
BACKEND_OUT += backends/onednn.c backends/onednn_int8.c
BUILD   := $(BUILD)-noonednn
endif
CFLAGS  += -DMB_WITH_OPENBLAS=$(WITH_OPENBLAS) -DMB_WITH_ONEDNN=$(WITH_ONEDNN)
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -I. -I$(BUILD) -MMD -MP $(SANFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# AdamW's loop takes a sqrtf per parameter; without errno to set it vectorises
# (values unchanged: errno is the only difference)
$(BUILD)/obj/train/trn_optim.o: CFLAGS += -fno-math-errno
# vocab/spm_shim.cc is the one C++ file: Debian's libsentencepiece has only a C++ API.
CXXFLAGS += -std=c++17 $(OPT) -g -Wall -Wextra -Werror -I. -MMD -MP $(SANFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv $(BACKEND_LIBS) -fopenmp -lm -lpthread \
           $(shell pkg-config --libs sentencepiece 2>/dev/null || echo -lsentencepiece -lsentencepiece_train) -lstdc++
LDFLAGS += $(SANFLAGS)

# Every .c under these folders is part of the library; cli/main.c is the program.
LIB_SRC  = $(wildcard common/*.c backends/*.c models/*.c train/*.c vocab/*.c quality/*.c analysis/*.c harness/*.c cli/*.c)
LIB_SRC := $(filter-out cli/main.c $(BACKEND_OUT),$(LIB_SRC))
LIB_CXX  = $(wildcard vocab/*.cc)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_CXX:%.cc=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Fuzz targets (tests/fuzz/, docs/fuzzing.md): `make test` builds each as a
# plain program that replays its corpus; `make fuzz` builds them with clang's
# libFuzzer in build-fuzz/ and runs each for FUZZ_SECONDS.
FUZZ_TARGETS  = scenario model csv bleu ids
FUZZ_REPLAY   = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
FUZZ_SECONDS ?= 60

PREFIX  ?= /usr/local

.PHONY: all test demo paper report install deps clean fuzz FORCE
all: $(BUILD)/moebench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# A planted slowdown for validating CI verdicts (scripts/ci-validate.sh):
# `make BUILD=build-slow5 EXTRA_WORK_PCT=5` repeats 5% of the linear layers' work.
ifneq ($(EXTRA_WORK_PCT),)
CFLAGS  += -DMOEBENCH_EXTRA_WORK_PCT=$(EXTRA_WORK_PCT)
endif

# The git revision and compiler flags results rows carry; rewritten only when they change.
$(BUILD)/gitrev.h: FORCE
	@mkdir -p $(BUILD); rev=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	{ echo "#define MOEBENCH_GIT_REV \"$$rev\""; \
	  echo "#define MOEBENCH_CFLAGS \"$(filter-out -I% -MMD -MP -W%,$(CFLAGS))\""; } > $@.new; \
	cmp -s $@.new $@ || mv $@.new $@; rm -f $@.new
$(BUILD)/obj/harness/sysinfo.o $(BUILD)/obj/harness/runid.o: $(BUILD)/gitrev.h

$(BUILD)/libmoebench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/moebench: $(BUILD)/obj/cli/main.o $(BUILD)/libmoebench.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The independent reference model (tests/oracle/, docs/routing.md) goes into
# the test binaries only, never into the library or the program.
ORACLE_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/oracle/*.c))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ORACLE_OBJ) $(BUILD)/libmoebench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o \
                        $(BUILD)/obj/tests/fuzz/fuzz_file.o $(BUILD)/libmoebench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/fuzz_file.o $(BUILD)/libmoebench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

.PRECIOUS: $(BUILD)/obj/tests/fuzz/%.o
ifeq ($(FUZZ),1)
# GCC's `#pragma GCC target` regions, which clang does not have; not fuzzed
$(BUILD)/obj/backends/fastops.o: CC = gcc
$(BUILD)/obj/backends/fastops.o: SANFLAGS =
endif

fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench $(TEST_BIN) $(FUZZ_REPLAY)
	@tests/run.sh $(BUILD)

# The main job on the built-in default scenario. Its outputs are the user's
# own (results/demo/, REPORT-demo.md, plots/figures/demo/, all in .gitignore);
# precisions this CPU cannot run are skipped with the reason written into the
# CSV and the report (--skip-unsupported), so the demo finishes on any x86-64.
# DEMO_FLAGS=--quick: one repetition, no warm-up (a quarter of the work,
# for a slow or busy machine); DEMO_SCENARIO=scenarios/quick.ini: the same
# pipeline on the tiny smoke-test scenario (seconds of measuring).
DEMO_OUT = results/demo
DEMO_FLAGS =
DEMO_SCENARIO = scenarios/demo.ini
DEMO_CSV = $(DEMO_OUT)/$(basename $(notdir $(DEMO_SCENARIO))).csv
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench
	@mkdir -p $(DEMO_OUT)
	$(BUILD)/moebench run $(DEMO_SCENARIO) --out $(DEMO_OUT) $(DEMO_FLAGS)
	$(BUILD)/moebench kernels --backend openblas --preset small --skip-unsupported --csv $(DEMO_OUT)/kernels-openblas-fp32.csv
	$(BUILD)/moebench kernels --backend onednn --preset small --skip-unsupported --csv $(DEMO_OUT)/kernels-onednn-fp32.csv
	$(BUILD)/moebench kernels --backend onednn --precision bf16 --preset small --skip-unsupported --csv $(DEMO_OUT)/kernels-onednn-bf16.csv
	$(BUILD)/moebench report $(DEMO_CSV) $(DEMO_OUT)/kernels-*.csv -o REPORT-demo.md --figures plots/figures/demo
	@echo "moebench: results in $(DEMO_OUT)/ (columns: results/README.md), report in REPORT-demo.md"

# The paper's tables at this machine's scale (issue 14; docs/training.md):
# the vocabulary, dense / token / sentence / task-MoE trained on an equal
# token budget, the task sub-networks, the student distilled from token-MoE,
# then the harness and the report. Every step is skipped when its output and
# stamp are current, so an interrupted run continues. Sizes: the table at the
# top of scripts/paper.sh. QUICK=1: every step on a tiny budget (its CSV and
# report stay in PAPER_DIR); PAPER_DIR=...: where models and logs go.
QUICK ?= 0
paper: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench
	MOEBENCH=$(BUILD)/moebench QUICK=$(QUICK) scripts/paper.sh

# The committed REPORT.md from every committed results CSV (the reference
# runs: demo, paper-wmt32e, kernels, make paper's paper-small, and training curves
# such as results/train-dense-m30k.csv); the files git tracks, so a user's own
# results/*.csv never slip in. Outside a git checkout: every results/*.csv.
REPORT_CSV = $(or $(shell git ls-files 'results/*.csv' 2>/dev/null),$(wildcard results/*.csv))
report: $(BUILD)/moebench
	$(BUILD)/moebench report $(REPORT_CSV) -o REPORT.md --figures plots/figures

# The program, the gnuplot scripts `moebench report` runs (found as
# <bindir>/../share/moebench/plots) and the scenarios, e.g.
# `make install PREFIX=$$HOME/.local`.
install: $(BUILD)/moebench
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/moebench/plots $(DESTDIR)$(PREFIX)/share/moebench/scenarios
	install -m 755 $(BUILD)/moebench $(DESTDIR)$(PREFIX)/bin/moebench
	install -m 644 plots/*.gp $(DESTDIR)$(PREFIX)/share/moebench/plots/
	install -m 644 scenarios/*.ini scenarios/README.md $(DESTDIR)$(PREFIX)/share/moebench/scenarios/

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
