"""`kerascheck check --show-settings PATH`: the settings one file (or folder) is checked with."""

from __future__ import annotations

from pathlib import Path

from kerascheck.engine import Plan


def _file_text(path: Path) -> str | None:
    """The text whose markers count (a notebook's cells as written), or None if unreadable."""
    from kerascheck.source import Unreadable, decode, read_bytes

    try:
        data = read_bytes(path)
        if path.suffix == ".ipynb":
            from kerascheck import notebook

            _, cells = notebook.to_source(data)
            return notebook.original_text(cells)
        return decode(data)
    except Unreadable:
        return None


def show(path: Path, plan: Plan) -> str:
    from kerascheck.discover import PathError

    if not path.exists():
        raise PathError(f"path does not exist: {path}")
    settings = plan.settings
    display = path.as_posix()
    text = _file_text(path) if path.is_file() else None
    facts = plan.facts_for(path, text, display)
    out = [f"Settings for {display}{'/' if path.is_dir() and not display.endswith('/') else ''}"]
    out.append(f"  config: {settings.config_shown or 'none (defaults)'}")
    out.append(f"  root: {settings.root}")
    rules = [r.code for r in plan.rules]
    ignored = sorted(plan.ignored_codes(path)) if path.is_file() else []
    out.append(f"  rules: {', '.join(rules) or 'none'}")
    if ignored:
        out.append(f"  per-file-ignores here: {', '.join(ignored)}")
    defaults = {r.code: r.options for r in plan.rules}
    for code, options in sorted(plan.options.items()):
        changed = {k: v for k, v in options.items() if defaults.get(code, {}).get(k) != v}
        if changed:
            out.append(f"  {code.lower()}: " + ", ".join(f"{k} = {v!r}" for k, v in sorted(changed.items())))
    out.append(f"  target-keras: {facts.keras}")
    out.append(f"    from: {facts.keras_source}")
    if facts.keras_forced and facts.keras_unforced is not None:
        unforced = facts.keras_unforced
        out.append(f"    without --target-keras: {unforced.keras} (from: {unforced.keras_source})")
    if facts.project != facts.keras and not facts.keras_forced:
        out.append(f"    `import keras` is still Keras {facts.project} here (the project's target)")
    for marker in facts.keras_markers:
        out.append(f"    file marker: {marker}")
    for note in facts.keras_notes:
        out.append(f"    note: {note}")
    return "\n".join(out)
