# moebench: one Makefile for the program, the tests and the demo.
#   make            build build/moebench
#   make test       build and run every test (last line: N passed, N failed, N skipped)
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-san/)
#   make demo       the main job on the built-in default scenario: results/demo/, REPORT-demo.md,
#                   plots/figures/demo/ (all ignored by git: the committed references stay as they are)
#   make report     REPORT.md and plots/figures/ again from every committed results/*.csv
#   make install    build/moebench and what it reads at run time under $(PREFIX) (default /usr/local)
#   make deps       install missing Debian packages (scripts/deps.sh)

# Parallel by default (one job per core); a -jN on the command line still
# wins. Only at the top: sub-makes share the top make's job slots.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

CC      ?= gcc
SAN     ?= 0
BUILD   ?= build
OPT     ?= -O2

ifeq ($(SAN),1)
BUILD    = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     = libcjson inih papi zlib openblas
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -I. -I$(BUILD) -MMD -MP $(SANFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -ldnnl -fopenmp -lm -lpthread
LDFLAGS += $(SANFLAGS)

# Every .c under these folders is part of the library; cli/main.c is the program.
LIB_SRC  = $(wildcard common/*.c backends/*.c models/*.c harness/*.c analysis/*.c quality/*.c cli/*.c)
LIB_SRC := $(filter-out cli/main.c,$(LIB_SRC))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PREFIX  ?= /usr/local

.PHONY: all test demo report install deps clean FORCE
all: $(BUILD)/moebench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The git revision results rows carry; rewritten only when it changes.
$(BUILD)/gitrev.h: FORCE
	@mkdir -p $(BUILD); rev=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	echo "#define MOEBENCH_GIT_REV \"$$rev\"" > $@.new; cmp -s $@.new $@ || mv $@.new $@; rm -f $@.new
$(BUILD)/obj/harness/sysinfo.o: $(BUILD)/gitrev.h

$(BUILD)/libmoebench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/moebench: $(BUILD)/obj/cli/main.o $(BUILD)/libmoebench.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libmoebench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench $(TEST_BIN)
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

# The committed REPORT.md from every committed results CSV (the reference
# runs: demo, paper-wmt32e, kernels); the files git tracks, so a user's own
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
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
