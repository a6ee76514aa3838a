# The results viewer (/viewer, served by the upload API) and its real-browser test
# (tests/e2e/test_viewer_browser.py): Debian's chromium + chromium-driver, driven by Selenium
# (dev extra). `make browser` installs them with apt when they are missing and it can (root, or
# passwordless sudo); otherwise it says why and the browser test skips with the same reason.
# Screenshots of each view land in test-artifacts/viewer/ (SITEVEIL_TEST_ARTIFACTS to move them).
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
BROWSER_PKGS := chromium chromium-driver
APT_INSTALL := apt-get install -y --no-install-recommends $(BROWSER_PKGS)

browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then \
	  echo "browser: $(CHROMIUM) + $(CHROMEDRIVER) present"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: SKIPPED - no apt-get here: install $(BROWSER_PKGS) yourself (the browser test skips)"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then \
	    echo "browser: SKIPPED - not root and no passwordless sudo: run 'sudo $(APT_INSTALL)' (the browser test skips)"; \
	  else \
	    $$SUDO $(APT_INSTALL) >/dev/null 2>&1 || { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO $(APT_INSTALL) >/dev/null 2>&1; } \
	      && echo "browser: installed $(BROWSER_PKGS)" \
	      || echo "browser: SKIPPED - apt-get could not install $(BROWSER_PKGS) (the browser test skips)"; \
	  fi; \
	fi

# The viewer's tests: server side against SeaweedFS, then the real browser against the real stack.
viewer-test: setup-dev browser triton-venv
	$(PY) -m pytest tests/api/test_viewer.py tests/e2e/test_viewer_browser.py -q

TEST_DEPS += browser
.PHONY: browser viewer-test
