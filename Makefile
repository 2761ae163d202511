# eventsrv: build, install the way PHP extensions and services are installed on Debian, test.
#
#   make build                      daemon + extension (cargo, release)
#   make install [DESTDIR=/stage]   see docs/install.md for what goes where
#   make test                       scripts/test.sh (every test suite)
#   make bank                       scripts/bank.sh (the bank example, daemon and worker)
#
# install needs php-config (php8.2-dev) for the extension directory; PHP_VERSION picks the
# /etc/php/<version> tree. DESTDIR stages everything under a directory (packaging, tests) and
# then skips phpenmod, which would change the running system.

PHP_CONFIG   ?= php-config
PHP_VERSION  ?= $(shell $(PHP_CONFIG) --version 2>/dev/null | cut -d. -f1,2)
PHP_EXT_DIR  ?= $(shell $(PHP_CONFIG) --extension-dir 2>/dev/null)
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
# The PHP package outside /usr/share/php: Debian's packages own that tree, and a hand
# installed library there would shadow or be shadowed by a future php-eventsrv package.
PHP_PKG_DIR  ?= $(PREFIX)/share/eventsrv/php
DOC_DIR      ?= $(PREFIX)/share/doc/eventsrv
SYSTEMD_DIR  ?= /lib/systemd/system
SYSUSERS_DIR ?= /usr/lib/sysusers.d
MODS_DIR     ?= /etc/php/$(PHP_VERSION)/mods-available

CARGO        ?= cargo
RELEASE      := target/release
INSTALL      ?= install

.PHONY: bench build install test bank

build:
	$(CARGO) build --release --workspace
	cp -f $(RELEASE)/libeventsrv.so $(RELEASE)/eventsrv.so

install:
	@test -f $(RELEASE)/eventsrv -a -f $(RELEASE)/libeventsrv.so || { echo "nothing built: run make build first" >&2; exit 1; }
	@test -n "$(PHP_EXT_DIR)" || { echo "php-config not found (install php8.2-dev) or set PHP_EXT_DIR" >&2; exit 1; }
	$(INSTALL) -D -m 0755 $(RELEASE)/eventsrv $(DESTDIR)$(BINDIR)/eventsrv
	$(INSTALL) -D -m 0644 $(RELEASE)/libeventsrv.so $(DESTDIR)$(PHP_EXT_DIR)/eventsrv.so
	$(INSTALL) -D -m 0644 packaging/php/eventsrv.ini $(DESTDIR)$(MODS_DIR)/eventsrv.ini
	$(INSTALL) -D -m 0644 packaging/systemd/eventsrv.service $(DESTDIR)$(SYSTEMD_DIR)/eventsrv.service
	$(INSTALL) -D -m 0644 packaging/systemd/eventsrv-worker.service $(DESTDIR)$(SYSTEMD_DIR)/eventsrv-worker.service
	$(INSTALL) -D -m 0644 packaging/systemd/eventsrv.sysusers.conf $(DESTDIR)$(SYSUSERS_DIR)/eventsrv.conf
	rm -rf $(DESTDIR)$(PHP_PKG_DIR)
	$(INSTALL) -d $(DESTDIR)$(PHP_PKG_DIR)
	cp -R php/src php/bin php/fallback php/autoload.php php/composer.json $(DESTDIR)$(PHP_PKG_DIR)/
	$(INSTALL) -d $(DESTDIR)$(DOC_DIR)
	$(INSTALL) -m 0644 README.md docs/*.md $(DESTDIR)$(DOC_DIR)/
	@if [ -z "$(DESTDIR)" ]; then \
		phpenmod -v $(PHP_VERSION) eventsrv && \
		{ command -v systemd-sysusers >/dev/null && systemd-sysusers $(SYSUSERS_DIR)/eventsrv.conf || true; } && \
		{ [ -d /run/systemd/system ] && systemctl daemon-reload || true; } ; \
		echo "installed; php -m lists eventsrv; start the daemon with: systemctl enable --now eventsrv"; \
	else \
		echo "staged under $(DESTDIR) (phpenmod skipped)"; \
	fi

test:
	scripts/test.sh

bank:
	scripts/bank.sh

# The side-by-side benchmark suite (docs/bench.md); `make bench ARGS=--quick` for a short run.
bench:
	bench/run.sh $(ARGS)
