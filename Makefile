# moebench: one Makefile for the program, the tests and the demo.
#   make            build build/moebench
#   make test       build and run every test (last line: N passed, N failed, N skipped)
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-san/)
#   make demo       the main job on the built-in default scenario
#   make deps       install missing Debian packages (scripts/deps.sh)

CC      ?= gcc
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
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv $(BACKEND_LIBS) -fopenmp -lm -lpthread
LDFLAGS += $(SANFLAGS)

# Every .c under these folders is part of the library; cli/main.c is the program.
LIB_SRC  = $(wildcard common/*.c backends/*.c models/*.c harness/*.c analysis/*.c quality/*.c cli/*.c)
LIB_SRC := $(filter-out cli/main.c $(BACKEND_OUT),$(LIB_SRC))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test demo deps clean FORCE
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

# The main job on the built-in default scenario; results/demo.csv.
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench
	$(BUILD)/moebench run scenarios/demo.ini --out results
	$(BUILD)/moebench kernels --backend openblas --preset small --csv results/kernels-openblas-fp32.csv
	$(BUILD)/moebench kernels --backend onednn --preset small --csv results/kernels-onednn-fp32.csv
	$(BUILD)/moebench kernels --backend onednn --precision bf16 --preset small --csv results/kernels-onednn-bf16.csv
	$(BUILD)/moebench report results/demo.csv results/kernels-*.csv -o REPORT.md --figures plots/figures
	@echo "moebench: results in results/demo.csv (columns: results/README.md), report in REPORT.md"

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
