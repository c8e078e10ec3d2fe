# Build, package and install the ipvlan-lan managed network plugin on the local Docker engine.
#
#   make install                 deps + build + rootfs + create + enable (starts dockerd if needed)
#   make PLUGIN_NAME=localhost:5000/ipvlan-lan TAG=0.1.0 create push
#
PLUGIN_NAME ?= ipvlan-lan
TAG ?= latest
PLUGIN_DIR ?= plugin
DOCKER ?= docker

PLUGIN_REF := $(PLUGIN_NAME):$(TAG)

.PHONY: all deps build plugin rootfs create enable disable install uninstall push clean \
	dockerd dockerd-stop test test-host bench lint

all: plugin

deps:
	scripts/deps.sh

# npm writes node_modules/.package-lock.json on every install.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json
	npm run build

# plugin/config.json is committed; the rootfs is assembled from the host's binaries.
plugin: build
	scripts/build-rootfs.sh

rootfs: plugin

dockerd:
	scripts/dockerd.sh start

dockerd-stop:
	scripts/dockerd.sh stop

create: plugin dockerd
	$(DOCKER) plugin rm -f $(PLUGIN_REF) >/dev/null 2>&1 || true
	$(DOCKER) plugin create $(PLUGIN_REF) ./$(PLUGIN_DIR)

enable:
	$(DOCKER) plugin enable $(PLUGIN_REF)

disable:
	$(DOCKER) plugin disable $(PLUGIN_REF)

# The one command to build and enable the plugin on the local engine, from a clean clone.
install: deps
	$(MAKE) --no-print-directory create
	$(MAKE) --no-print-directory enable
	$(DOCKER) plugin ls

uninstall:
	$(DOCKER) plugin rm -f $(PLUGIN_REF)

push:
	$(DOCKER) plugin push $(PLUGIN_REF)

clean:
	rm -rf $(PLUGIN_DIR)/rootfs .cache/rootfs-stage dist

test:
	npm test

# Needs root and the host's docker.io engine (started if needed); creates ipvlan-lan-hosttest:latest.
test-host: node_modules/.package-lock.json
	node --import tsx --test --test-concurrency=1 test/host/*.test.ts

bench:
	npm run bench

lint:
	npm run lint
