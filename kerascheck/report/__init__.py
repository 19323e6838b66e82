"""Reporters: findings in, text out. Each is `render(result, stream, options)`."""

from kerascheck.atomic import output

__all__ = ["get", "output"]


def get(name: str):
    if name == "json":
        from kerascheck.report import json_ as module
    elif name == "sarif":
        from kerascheck.report import sarif as module
    elif name == "github":
        from kerascheck.report import github as module
    else:
        from kerascheck.report import text as module
    return module
