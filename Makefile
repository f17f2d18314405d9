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

ifeq ($(SAN),1)
BUILD    = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     = libcjson
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. -MMD -MP $(SANFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDFLAGS += $(SANFLAGS)

# Every .c under these folders is part of the library; harness/main.c is the program.
LIB_SRC  = $(wildcard common/*.c backends/*.c models/*.c harness/*.c)
LIB_SRC := $(filter-out harness/main.c,$(LIB_SRC))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test demo deps clean
all: $(BUILD)/moebench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libmoebench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/moebench: $(BUILD)/obj/harness/main.o $(BUILD)/libmoebench.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libmoebench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/moebench $(TEST_BIN)
	@tests/run.sh $(BUILD)

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
