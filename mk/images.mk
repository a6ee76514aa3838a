# Container images of the transformer and the upload API, built with buildah (no Docker engine).
# `make images` installs buildah + debootstrap with apt when missing (root), builds a local Debian
# bookworm base with debootstrap (IMAGE_BASE=local, the default: it needs only a Debian mirror),
# or uses IMAGE_BASE=<image> as is (e.g. docker.io/library/python:3.11-slim-bookworm), then builds
# transformer/Containerfile and api/Containerfile on it. tests/images/ runs both images against
# the local stack; `make test` builds them first where buildah is installed.

BUILDAH ?= buildah
IMAGE_BASE ?= local
IMAGE_REPO ?= localhost/siteveil
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGES_DIR := .cache/images
LOCAL_BASE := localhost/siteveil-base:bookworm
# The Debian archive apt is configured with (deb822 or one-line sources), else the default mirror.
DEBIAN_MIRROR ?= $(or $(shell sed -n 's/^URIs: *\([^ ]*debian\)$$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1),http://deb.debian.org/debian)
BASE_REF = $(if $(filter local,$(IMAGE_BASE)),$(LOCAL_BASE),$(IMAGE_BASE))
# Behind a TLS-inspecting proxy pip needs the host's CA bundle (PIP_CERT): mounted for the build
# steps only, never committed into an image.
IMAGE_CA ?= $(PIP_CERT)
CA_ARGS = $(if $(IMAGE_CA),--volume $(abspath $(IMAGE_CA)):/run/siteveil-build-ca.crt:ro --build-arg PIP_CERT=/run/siteveil-build-ca.crt)
BUILD = $(BUILDAH) bud --isolation chroot --layers --build-arg BASE=$(BASE_REF) $(CA_ARGS)

.PHONY: images images-tools images-base

images-tools:
	@command -v $(BUILDAH) >/dev/null && command -v debootstrap >/dev/null || { \
	  test "$$(id -u)" = 0 || { echo "images: install buildah and debootstrap (apt-get install buildah debootstrap) as root" >&2; exit 1; }; \
	  apt-get install -y -q buildah debootstrap; }

# The local base: Debian bookworm minbase with Python 3.11, its venv module (ensurepip) and CA
# certificates (TLS to S3), committed as $(LOCAL_BASE). Built once; `rm $(IMAGES_DIR)/base.stamp` rebuilds it.
$(IMAGES_DIR)/base.stamp: | images-tools
	rm -rf $(IMAGES_DIR)/rootfs && mkdir -p $(IMAGES_DIR)
	debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils,python3-lib2to3,python3-pip-whl,python3-setuptools-whl,ca-certificates \
	  bookworm $(IMAGES_DIR)/rootfs $(DEBIAN_MIRROR)
	rm -rf $(IMAGES_DIR)/rootfs/var/cache/apt/archives/*.deb $(IMAGES_DIR)/rootfs/var/lib/apt/lists/*
	set -e; ctr=$$($(BUILDAH) from scratch); mnt=$$($(BUILDAH) mount $$ctr); \
	  cp -a $(IMAGES_DIR)/rootfs/. $$mnt/; $(BUILDAH) umount $$ctr; \
	  $(BUILDAH) config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    --env LANG=C.UTF-8 --cmd python3 --label io.siteveil.base=debootstrap-bookworm $$ctr; \
	  $(BUILDAH) commit --rm $$ctr $(LOCAL_BASE)
	rm -rf $(IMAGES_DIR)/rootfs
	touch $@

images-base: $(if $(filter local,$(IMAGE_BASE)),$(IMAGES_DIR)/base.stamp,images-tools)

images: images-base
	$(BUILD) -f transformer/Containerfile -t $(IMAGE_REPO)/transformer:$(IMAGE_TAG) .
	$(BUILD) -f api/Containerfile -t $(IMAGE_REPO)/api:$(IMAGE_TAG) .
	$(BUILDAH) images --filter reference=$(IMAGE_REPO)/*

# `make test` builds the images where buildah is installed and we are root (debootstrap and
# chroot isolation need it); elsewhere tests/images skip, saying why.
ifneq ($(shell command -v $(BUILDAH) 2>/dev/null),)
ifeq ($(shell id -u),0)
TEST_DEPS += images
endif
endif
