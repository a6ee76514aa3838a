"""The results viewer in a real browser (Debian's chromium + chromium-driver, driven by Selenium)
against the real stack: sign in with a dev token, see the demo's images, filter by camera, toggle
the mask overlay. A screenshot of each view is saved as a test artifact
(`$SITEVEIL_TEST_ARTIFACTS/viewer/`, default `test-artifacts/viewer/`)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from stack.config import REPO_ROOT
from stack.lifecycle import StackState, describe, viewer_url
from stack.samples import demo_samples
from stack.upload_api import dev_token

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("SITEVEIL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SITEVEIL_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("SITEVEIL_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "viewer"
CAMERAS = {"astronaut": "gate-1", "cameraman": "gate-1", "rocket": "gate-2", "composite": "gate-2"}
BROKEN = b"\xff\xd8\xff\xe0 this is not a JPEG"
WAIT_S = 30


def _browser_or_skip() -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: install the dev extra")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            pytest.skip(f"{path} not found: `make browser` installs Debian's {package} (needs apt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1100", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(arg)
    # The driver path is given: Selenium Manager never tries to download a driver.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _browser_or_skip()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def uploaded(stack: StackState, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo's images uploaded with the CLI as a fresh tenant, two cameras, plus one broken
    file; waits until every image is processed."""
    tenant = f"viewer-{uuid.uuid4().hex[:8]}"
    token = dev_token(Path(stack.api_keys_dir), tenant)
    folder = tmp_path_factory.mktemp("viewer-upload")
    by_camera: dict[str, list[Path]] = {}
    for sample in demo_samples():
        path = folder / f"{sample.name}.{sample.ext}"
        path.write_bytes(sample.data)
        by_camera.setdefault(CAMERAS[sample.name], []).append(path)
    broken = folder / "broken.jpg"
    broken.write_bytes(BROKEN)
    by_camera["gate-2"].append(broken)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SITEVEIL_"))}
    env.update({"SITEVEIL_API_URL": stack.api_url, "SITEVEIL_TOKEN": token})
    for camera, files in by_camera.items():
        done = subprocess.run(
            [sys.executable, "-m", "siteveil_cli", "upload", *map(str, files), "--batch",
             "--camera", camera, "--label", "site=demo", "--wait", "--timeout", "300",
             "--poll", "0.5"],
            env=env, capture_output=True, text=True, timeout=420, cwd=REPO_ROOT, check=False,
        )  # fmt: skip
        # exit 1: the broken file failed, as it must; anything else is a problem
        assert done.returncode in (0, 1), done.stdout + done.stderr
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = viewer_url(stack.api_url)
    assert url in describe(stack)  # what `make up` prints is what the browser opens
    return {"tenant": tenant, "token": token, "url": url}


def _wait(browser: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def _cards(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, "article.card"))


def _images_loaded(browser: Any, css: str) -> list[int]:
    """naturalWidth of each matching image once loaded (0: broken or not loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = f"return [...document.querySelectorAll({css!r})].map(i => i.complete)"
    WebDriverWait(browser, WAIT_S).until(lambda b: all(b.execute_script(script)))
    return list(
        browser.execute_script(
            f"return [...document.querySelectorAll({css!r})].map(i => i.naturalWidth)"
        )
    )


def _shot(browser: Any, name: str) -> Path:
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    return path


def _frame_pixels(card: Any) -> np.ndarray:
    from selenium.webdriver.common.by import By

    png = card.find_element(By.CSS_SELECTOR, ".frame").screenshot_as_png
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_sign_in_see_filter_and_toggle_the_mask(browser: Any, uploaded: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    # 1. signed out: the sign-in form
    browser.get(uploaded["url"])
    field = _wait(browser, "textarea#credential")
    _shot(browser, "01-sign-in.png")
    field.send_keys(uploaded["token"])
    browser.find_element(By.ID, "sign-in").click()

    # 2. the tenant's results, newest first, every anonymized image loaded from its link
    _wait(browser, "#results")
    assert browser.find_element(By.ID, "tenant").text == uploaded["tenant"]
    cards = _cards(browser)
    statuses = sorted(c.get_attribute("data-status") for c in cards)
    assert statuses == ["anonymized"] * 4 + ["failed"]
    widths = _images_loaded(browser, "img.anonymized")
    assert len(widths) == 4 and all(w > 0 for w in widths), widths
    counts = {
        e.get_attribute("data-count"): int(e.text)
        for e in browser.find_elements(By.CSS_SELECTOR, "[data-count]")
    }
    assert counts == {"total": 5, "anonymized": 4, "failed": 1}
    failed = next(c for c in cards if c.get_attribute("data-status") == "failed")
    assert "not anonymized" in failed.text and failed.find_element(By.CSS_SELECTOR, ".reason")
    assert "person_segmenter" in cards[0].text and "% of pixels" in browser.page_source
    assert "incoming/" not in browser.page_source  # never an original
    _shot(browser, "02-results.png")

    # 3. filter by camera
    camera = browser.find_element(By.ID, "camera")
    camera.clear()
    camera.send_keys("gate-1")
    browser.find_element(By.ID, "apply").click()
    _wait(browser, "#results")
    cards = _cards(browser)
    assert [c.get_attribute("data-camera") for c in cards] == ["gate-1", "gate-1"]
    assert all(c.get_attribute("data-status") == "anonymized" for c in cards)
    _images_loaded(browser, "img.anonymized")
    _shot(browser, "03-camera-gate-1.png")

    # 4. the mask overlay: hidden, then shown over each anonymized image
    card = cards[0]
    before = _frame_pixels(card)
    mask = card.find_element(By.CSS_SELECTOR, "img.mask")
    assert not mask.is_displayed()
    browser.find_element(By.ID, "mask-toggle").click()
    assert mask.is_displayed()
    assert all(w > 0 for w in _images_loaded(browser, "img.mask"))
    after = _frame_pixels(card)
    changed = np.abs(after - before).max(axis=2) > 30
    assert before.shape == after.shape and 0.01 < changed.mean() < 0.99, changed.mean()
    _shot(browser, "04-mask-overlay.png")

    # ...and a reload keeps the choice through the form
    browser.find_element(By.ID, "apply").click()
    _wait(browser, "body.show-mask")


def test_another_tenant_sees_none_of_these_results(
    browser: Any, stack: StackState, uploaded: dict[str, Any]
) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(uploaded["url"])
    _wait(browser, "textarea#credential").send_keys(
        dev_token(Path(stack.api_keys_dir), f"other-{uuid.uuid4().hex[:8]}")
    )
    browser.find_element(By.ID, "sign-in").click()
    _wait(browser, "#results")
    assert _cards(browser) == [] and browser.find_element(By.ID, "empty")
    assert uploaded["tenant"] not in browser.page_source
