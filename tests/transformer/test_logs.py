"""The one JSON log formatter: the transformer's allow-list, and every extra for the other processes."""

from __future__ import annotations

import json
import logging
import sys

from transformer.logs import JsonFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "siteveil.test", "levelname": "INFO", "msg": "hello"})
    record.__dict__.update(extra)
    return record


def test_the_transformer_allow_list_drops_fields_it_does_not_name() -> None:
    line = json.loads(
        JsonFormatter().format(_record(image_id="img-1", url="https://signed?X-Amz-Signature=s"))
    )
    assert line["image_id"] == "img-1" and line["message"] == "hello"
    assert "url" not in line and "X-Amz-Signature" not in json.dumps(line)


def test_without_an_allow_list_every_extra_field_is_logged() -> None:
    line = json.loads(JsonFormatter(fields=None).format(_record(message_id="m-1", attempt=3)))
    assert (line["message_id"], line["attempt"], line["logger"]) == ("m-1", 3, "siteveil.test")
    assert {"time", "level", "logger", "message"} <= line.keys() and "args" not in line


def test_an_exception_is_one_field_of_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record()
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["exception"]
