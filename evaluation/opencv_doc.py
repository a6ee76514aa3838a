"""OpenCV's sample data as Debian ships it in `opencv-doc` 4.6.0+dfsg-12: pinned, sha256-checked.

The package (`/usr/share/doc/opencv-doc/examples/data/`; Apache-2.0 AND BSD-3-Clause per its
copyright file) is fetched once from the Debian archive apt is configured with (deb822 sources,
else deb.debian.org), checked against its pinned sha256, and the members the evaluation uses are
extracted with `dpkg-deb` into an ignored cache, each checked against its own sha256:

- `vtest.avi`: the fixed-camera pedestrian video of `make eval-cctv` (`evaluation.cctv`);
- `messi5.jpg`, `basketball1.png`: photographs of whole people (a footballer, a man catching a
  ball) that the scene generator pastes as distant, whole-body people (`evaluation.sources`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from export.fetch import sha256_file as sha256
from stack.config import REPO_ROOT

DEB_POOL_PATH = "pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb"
DEB_SHA256 = "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"
DATA_DIR = "./usr/share/doc/opencv-doc/examples/data/"
MEMBERS: dict[str, str] = {  # file name in DATA_DIR -> sha256
    "vtest.avi": "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
    "messi5.jpg": "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
    "basketball1.png": "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6",
}
DEFAULT_MIRROR = "http://deb.debian.org/debian"
CACHE_DIR = REPO_ROOT / ".cache" / "eval"  # where the Makefile puts them


def mirror() -> str:
    """The Debian archive apt uses here (deb822 sources), else deb.debian.org."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                uri = line.split()[1].rstrip("/")
                if uri.endswith("/debian"):
                    return uri
    return DEFAULT_MIRROR


def cached(name: str, cache_dir: Path = CACHE_DIR) -> Path | None:
    """The extracted member if it is in the cache with its pinned sha256, else None."""
    path = cache_dir / name
    return path if path.is_file() and sha256(path) == MEMBERS[name] else None


def _deb(cache_dir: Path, archive: str | None) -> Path:
    deb = cache_dir / Path(DEB_POOL_PATH).name
    if deb.is_file() and sha256(deb) == DEB_SHA256:
        return deb
    url = f"{(archive or mirror()).rstrip('/')}/{DEB_POOL_PATH}"
    print(f"fetching {url} ...", flush=True)
    with urllib.request.urlopen(url, timeout=300) as response, deb.open("wb") as out:
        shutil.copyfileobj(response, out)
    if sha256(deb) != DEB_SHA256:
        deb.unlink()
        raise RuntimeError(f"{url}: sha256 differs from the pinned {DEB_SHA256}")
    return deb


def fetch(names: list[str], cache_dir: Path = CACHE_DIR, archive: str | None = None) -> list[Path]:
    """The members `names`, extracted once from the pinned package; each sha256-checked."""
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        raise ValueError(f"not pinned: {', '.join(unknown)}; known: {', '.join(MEMBERS)}")
    missing = [n for n in names if cached(n, cache_dir) is None]
    if missing:
        cache_dir.mkdir(parents=True, exist_ok=True)
        deb = _deb(cache_dir, archive)
        members = [DATA_DIR + n for n in missing]
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            tar = subprocess.run(
                ["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp, *members], input=tar, check=True)
            for name, member in zip(missing, members, strict=True):
                extracted = Path(tmp) / member
                if sha256(extracted) != MEMBERS[name]:
                    raise RuntimeError(
                        f"{member} in {deb.name}: sha256 differs from the pinned one"
                    )
                os.replace(extracted, cache_dir / name)
    return [cache_dir / n for n in names]


if __name__ == "__main__":
    import sys

    for path in fetch(sys.argv[1:] or list(MEMBERS)):
        print(path)
