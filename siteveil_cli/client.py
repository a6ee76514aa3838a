"""A small client of the upload & results API, and of the presigned S3 URLs it hands out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT_S = 60


class ApiError(Exception):
    """The API or S3 refused a request; `status` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status


def _session() -> requests.Session:
    # Retry only what is safe to repeat: GETs and presigned PUTs (same key, same bytes).
    retry = Retry(
        total=4,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "PUT"}),
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("reason") or body)
    except ValueError:
        return response.text[:200]


class ApiClient:
    def __init__(self, base_url: str, *, token: str | None = None, api_key: str | None = None):
        self._base = base_url.rstrip("/")
        self._session = _session()
        self._auth: dict[str, str] = {}
        if token:
            self._auth["Authorization"] = f"Bearer {token}"
        elif api_key:
            self._auth["X-API-Key"] = api_key

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            response = self._session.request(
                method, self._base + path, json=body, headers=self._auth, timeout=TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise ApiError(0, f"cannot reach the API at {self._base}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _reason(response))
        return dict(response.json())

    def create_upload(self, item: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/uploads", item)

    def create_batch(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/v1/batches", {"items": items})

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/batches/{batch_id}")

    def image(self, image_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/images/{image_id}")

    def upload(self, slot: dict[str, Any], path: Path) -> None:
        """Send the file exactly as the slot says (S3 checks the signed type and size)."""
        data = path.read_bytes()
        try:
            if slot["method"] == "PUT":
                response = self._session.put(
                    slot["url"], data=data, headers=slot["headers"], timeout=TIMEOUT_S
                )
            else:
                response = self._session.post(
                    slot["url"],
                    data=slot["fields"],
                    files={"file": (path.name, data)},
                    timeout=TIMEOUT_S,
                )
        except requests.RequestException as exc:
            raise ApiError(0, f"upload of {path} failed: {exc}") from exc
        if response.status_code >= 300:
            raise ApiError(response.status_code, f"S3 refused {path}: {response.text[:200]}")

    def download(self, url: str, dest: Path) -> None:
        try:
            response = self._session.get(url, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise ApiError(0, f"download failed: {exc}") from exc
        if response.status_code != 200:
            raise ApiError(response.status_code, "download of a result failed")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(response.content)
