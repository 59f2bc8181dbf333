# SPDX-License-Identifier: GPL-2.0-or-later
# porthole build.
#
# Kernel side, one object per feature (porthole: sessions, designations,
# listeners; guard: server windows, loaded only with serve lines):
# bpf/*.bpf.c -> build/bpf/*.bpf.o (clang -target bpf, CO-RE) ->
# build/bpf/*.skel.h (bpftool gen skeleton); the daemon embeds the skeleton.
# vmlinux.h: generated at build time from the running kernel's BTF
# (/sys/kernel/btf/vmlinux, override with VMLINUX_BTF=...), never kept in git.
# CO-RE relocations make the object portable to other kernels with BTF.
#
# User space: build/portholed, build/porthole (-Wall -Wextra -Werror), and the
# same under AddressSanitizer/UBSan in build/asan/ for the test suite.
#   make            build          make test     all test tiers (root)
#   make deps       Debian packages make demo    the lab demo (root)
#   make test-kernels  the tests in Debian's 6.1 and 6.12 kernels under QEMU (root)
#   make install    PREFIX=/usr/local DESTDIR=    V=1 shows commands

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR    ?=

CC        ?= cc
CLANG     ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

BUILD     := build
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -D_GNU_SOURCE \
             -Ilib -Idaemon -Ibpf -I$(BUILD)/bpf
DAEMON_LIBS := -lbpf -lelf -lz -lnftnl -lmnl -lsystemd
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# lib/: what both binaries use (libporthole.a); no globals, no logging
LIB_SRC    := $(wildcard lib/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
CLI_SRC    := $(wildcard cli/*.c)
UNIT_TESTS := test_config test_proto test_json test_engine test_nftrule test_window test_server test_container

LIB_OBJ        := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
SAN_LIB_OBJ    := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(LIB_SRC))
DAEMON_OBJ     := $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(BUILD)/libporthole.a
CLI_OBJ        := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC)) $(BUILD)/libporthole.a
SAN_DAEMON_OBJ := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(DAEMON_SRC)) $(BUILD)/asan/libporthole.a
SAN_CLI_OBJ    := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(CLI_SRC)) $(BUILD)/asan/libporthole.a
HEADERS := $(wildcard lib/*.h daemon/*.h bpf/*.h)
MAN5        := docs/porthole.conf.5
MAN8        := docs/porthole.8 docs/portholed.8
COMPLETIONS := packaging/bash-completion/porthole packaging/bash-completion/portholed

.PHONY: all asan deps test test-kernels unit demo bench bench-tools fuzz install uninstall clean
all: $(BUILD)/portholed $(BUILD)/porthole

# ---- kernel programs ---------------------------------------------------
$(BUILD)/bpf/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/%.h $(wildcard bpf/*.bpf.h) $(BUILD)/bpf/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-I$(BUILD)/bpf -Ibpf -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@ # DWARF is not needed at run time; BTF stays

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# ---- user space ----------------------------------------------------------
# lib/ and cli/ need no BPF toolchain: only the daemon includes the skeleton
$(BUILD)/obj/lib/%.o: lib/%.c $(wildcard lib/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/cli/%.o: cli/%.c $(wildcard lib/*.h cli/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/lib/%.o: lib/%.c $(wildcard lib/*.h)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/obj/cli/%.o: cli/%.c $(wildcard lib/*.h cli/*.h)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

SKELS := $(BUILD)/bpf/porthole.skel.h $(BUILD)/bpf/guard.skel.h

$(BUILD)/obj/%.o: %.c $(HEADERS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c $(HEADERS) $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/libporthole.a: $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/libporthole.a: $(SAN_LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/portholed: $(DAEMON_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(DAEMON_LIBS) -o $@

$(BUILD)/porthole: $(CLI_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -lnftnl -lmnl -o $@

$(BUILD)/asan/portholed: $(SAN_DAEMON_OBJ)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(DAEMON_LIBS) -o $@

$(BUILD)/asan/porthole: $(SAN_CLI_OBJ)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -lnftnl -lmnl -o $@

# tests/tools/cwinctl: lib/nftcontainer driven without the daemon (tests/adversary/test_cwin.sh)
$(BUILD)/asan/cwinctl: tests/tools/cwinctl.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(BUILD)/asan/libporthole.a -lnftnl -lmnl -o $@

# tests/tools/csrvctl: lib/nftcsrv and the guard driven without the daemon (tests/adversary/test_csrv.sh)
$(BUILD)/asan/csrvctl: tests/tools/csrvctl.c $(BUILD)/asan/libporthole.a $(HEADERS) $(BUILD)/bpf/guard.skel.h
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(BUILD)/asan/libporthole.a -lbpf -lelf -lz -lnftnl -lmnl -o $@

asan: $(BUILD)/asan/portholed $(BUILD)/asan/porthole $(BUILD)/asan/cwinctl $(BUILD)/asan/csrvctl

# ---- unit tests (no privileges) -----------------------------------------
$(BUILD)/asan/test_%: tests/unit/test_%.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(BUILD)/asan/libporthole.a -o $@

# lib/nftrule against libnftnl, in memory
$(BUILD)/asan/test_nftrule: tests/unit/test_nftrule.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(BUILD)/asan/libporthole.a -lnftnl -lmnl -o $@

# the window state machine, its seam (struct ph_window_ops) faked by the test
$(BUILD)/asan/test_window: tests/unit/test_window.c daemon/window.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< daemon/window.c $(BUILD)/asan/libporthole.a -o $@

# the server-window state machine, its seam (struct ph_server_ops) faked by the test
$(BUILD)/asan/test_server: tests/unit/test_server.c daemon/server.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< daemon/server.c $(BUILD)/asan/libporthole.a -o $@

# the container-window state machine, its seam (struct ph_container_ops) faked by the test
$(BUILD)/asan/test_container: tests/unit/test_container.c daemon/container.c daemon/container_books.c daemon/container_census.c daemon/container_run.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< daemon/container.c daemon/container_books.c daemon/container_census.c daemon/container_run.c $(BUILD)/asan/libporthole.a -o $@

# tools of the namespace tier that drive lib/ against the real kernel there
# (root-made namespaces), built under ASan/UBSan with the unit tests:
# netns_resolve, lib/netns's resolver (integration/test_netns.sh)
TEST_TOOLS := netns_resolve
$(BUILD)/asan/netns_resolve: tests/tools/netns_resolve.c $(BUILD)/asan/libporthole.a $(HEADERS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(BUILD)/asan/libporthole.a -lnftnl -lmnl -o $@

unit: $(addprefix $(BUILD)/asan/,$(UNIT_TESTS) $(TEST_TOOLS))

# ---- benchmark helpers -------------------------------------------------------
BENCH_TOOLS := $(addprefix $(BUILD)/bench/,lat_listen synprobe close_listen close_probe connrate hook_listen nft_mon ct_flush flood)
$(BUILD)/bench/%: tests/bench/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror $< -o $@
bench-tools: $(BENCH_TOOLS)

# performance: open/close latency against an nft-CLI hook, scaling with the
# host ruleset, concurrent windows, idle footprint; the guard of server
# windows; a guarded window under a request flood; a container window's open
# latency through DNAT beside a host window's (root; BENCH_QUICK=1 short)
bench:
	$(Q)tests/deps.sh --if-missing
	$(Q)$(MAKE) --no-print-directory all bench-tools
	$(Q)bash tests/bench/bench.sh
	$(Q)bash tests/bench/guard.sh
	$(Q)bash tests/bench/flood.sh
	$(Q)bash tests/bench/container.sh

# ---- packages, tests, demo ------------------------------------------------
deps:
	$(Q)tests/deps.sh

test:
	$(Q)tests/deps.sh --if-missing
	$(Q)$(MAKE) --no-print-directory all asan unit bench-tools
	$(Q)tests/run.sh

# the kernel tier: Debian's own kernel packages (6.1, 6.12) booted under QEMU
# on the host's userland, the BPF probe, unit, namespace and e2e tests in each
# (tests/kernels/run.sh; KT_KERNELS, KT_TESTS, KT_ACCEL ...)
test-kernels:
	$(Q)tests/deps.sh --if-missing
	$(Q)$(MAKE) --no-print-directory all asan unit bench-tools
	$(Q)tests/kernels/run.sh

# libFuzzer targets for the control-message decoder and the config parser;
# FUZZ_SECONDS per target (make test runs them for a short smoke period)
fuzz:
	$(Q)tests/deps.sh --if-missing
	$(Q)FUZZ_SECONDS=$${FUZZ_SECONDS:-60} bash tests/fuzz/run.sh

demo:
	$(Q)tests/deps.sh --if-missing
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh

# ---- install --------------------------------------------------------------
# systemd's own directories: /lib/systemd/system and /usr/lib/tmpfiles.d on
# Debian whatever PREFIX is (override UNITDIR/TMPFILESDIR elsewhere)
UNITDIR     ?= /lib/systemd/system
TMPFILESDIR ?= /usr/lib/tmpfiles.d
SYSUSERSDIR ?= /usr/lib/sysusers.d

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/portholed $(DESTDIR)$(SBINDIR)/portholed
	install -m 0755 $(BUILD)/porthole $(DESTDIR)$(BINDIR)/porthole
	install -d $(DESTDIR)$(SYSCONFDIR)/porthole
	test -e $(DESTDIR)$(SYSCONFDIR)/porthole/porthole.conf || \
		install -m 0644 packaging/porthole.conf $(DESTDIR)$(SYSCONFDIR)/porthole/porthole.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/portholed.service > $(DESTDIR)$(UNITDIR)/portholed.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/portholed.service
	install -m 0644 packaging/porthole.tmpfiles $(DESTDIR)$(TMPFILESDIR)/porthole.conf
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 packaging/porthole.sysusers $(DESTDIR)$(SYSUSERSDIR)/porthole.conf
	@# the user portholed.service runs as: made now on this machine (a
	@# package's postinst does the same), left to the image's first boot
	@# under DESTDIR
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/porthole.conf; fi
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(COMPLETIONS) $(DESTDIR)$(BASHCOMPDIR)/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portholed $(DESTDIR)$(BINDIR)/porthole
	rm -f $(DESTDIR)$(UNITDIR)/portholed.service $(DESTDIR)$(TMPFILESDIR)/porthole.conf \
	      $(DESTDIR)$(SYSUSERSDIR)/porthole.conf
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	      $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(notdir $(COMPLETIONS)))

clean:
	rm -rf $(BUILD)
