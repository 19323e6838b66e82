"""Reporters: findings in, text out. Each is `render(result, stream, options)`."""

FORMATS = ("text", "json")


def get(name: str):
    if name == "json":
        from kerascheck.report import json_ as module
    else:
        from kerascheck.report import text as module
    return module
