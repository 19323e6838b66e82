"""Command line: `kerascheck check PATHS`, `kerascheck rule KC001`.

Exit codes: 0 no findings, 1 findings, 2 usage error, bad config, unknown
rule code or internal error (one line on stderr; a traceback with --verbose).
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kerascheck import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


@dataclass(frozen=True)
class CheckRequest:
    """`kerascheck check`'s arguments as click parsed them (one field per option, same names).

    `overrides()` is what they set in `Settings` (None: not given, so the config file or the
    default decides); the rest (output, baseline, confirm, ...) is the run's, not the linter's."""

    paths: tuple[str, ...] = ()
    select: tuple[str, ...] = ()  # as typed: each may hold several comma-separated codes
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    config_file: str | None = None
    output_format: str = "text"
    output_file: str | None = None
    exit_zero: bool = False
    statistics: bool = False
    jobs: int | None = None
    file_timeout: float | None = None
    file_memory: int | None = None
    force_exclude: bool = False
    no_respect_gitignore: bool = False
    no_cache: bool = False
    diff_ref: str | None = None
    full_parse: bool = False
    baseline_file: str | None = None
    write_baseline: str | None = None
    report_unused_noqa: bool = False
    confirm: bool = False
    confirm_timeout: float = 60.0
    confirm_memory: int = 4096
    verbose: bool = False

    def __post_init__(self) -> None:
        if not self.paths:
            object.__setattr__(self, "paths", (".",))

    def overrides(self) -> dict[str, Any]:
        return {
            "select": _codes(self.select),
            "ignore": _codes(self.ignore),
            "exclude": self.exclude or None,
            "extend_exclude": self.extend_exclude or None,
            "jobs": self.jobs,
            "file_timeout": self.file_timeout,
            "file_memory": self.file_memory,
            "force_exclude": self.force_exclude or None,
            "respect_gitignore": False if self.no_respect_gitignore else None,
            "full_parse": self.full_parse or None,
            "report_unused_noqa": self.report_unused_noqa or None,
        }


def _fail(message: str) -> None:
    _note(f"kerascheck: error: {message}")
    _exit(EXIT_ERROR)


def _note(message: str) -> None:
    """One line on stderr; a closed stderr only silences it."""
    try:
        click.echo(message, err=True)
    except BrokenPipeError:
        _streams_closed()


def _exit(code: int) -> None:
    """Exit with `code` once stdout is flushed; a reader that went away does not change it."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_closed()
    sys.exit(code)


def _stdout_closed() -> None:
    """The reader of stdout is gone (`| head`): point stdout at /dev/null, so that nothing more
    fails, the interpreter's last flush included (it would print `Exception ignored ...`)."""
    _to_devnull(sys.stdout)


def _streams_closed() -> None:
    _to_devnull(sys.stdout)
    _to_devnull(sys.stderr)


def _to_devnull(stream) -> None:
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (click's test runner): nothing to do
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kerascheck")
def main() -> None:
    """kerascheck: a linter for Keras model code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES", help="Rule codes or prefixes to enable (comma-separated).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to disable (comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Replace the configured exclude globs.")
@click.option("--extend-exclude", multiple=True, metavar="GLOB", help="Exclude these globs as well.")
@click.option("--config", "config_file", type=click.Path(), help="Use this config file (pyproject.toml or kerascheck.toml).")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of each finding.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True, max=1e9), metavar="SECONDS",
              help="Time limit for one file's parse and analysis; a file over it is KC000 (default 20).")
@click.option("--file-memory", type=click.IntRange(min=64), metavar="MB",
              help="Memory cap of the process that parses one file; a file over it is KC000 (default 4096).")
@click.option("--force-exclude", is_flag=True, help="Apply excludes to files named on the command line too.")
@click.option("--no-respect-gitignore", is_flag=True, help="Check files .gitignore would skip.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache (.kerascheck_cache/).")
@click.option("--diff", "--changed-since", "diff_ref", metavar="REF",
              help="Check only the files changed since the git ref REF (committed, staged, unstaged, untracked).")
@click.option("--full-parse", is_flag=True, hidden=True, help="Debug: give libcst whole files.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE, not stdout.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Report only findings that are not recorded in FILE.")
@click.option("--write-baseline", type=click.Path(dir_okay=False), metavar="FILE",
              help="Record the current findings in FILE and exit 0.")
@click.option("--report-unused-noqa", is_flag=True, help="Report `# noqa: KCnnn` comments that suppress nothing (KC100).")
@click.option("--confirm", is_flag=True,
              help="After linting, build each finding's code with TensorFlow (pip install kerascheck[confirm]) "
                   "in a child process and measure whether the problem really happens: confirmed, not "
                   "reproduced or could not build. From the flagged file this runs: the imports and the "
                   "top-level functions and classes the flagged code uses (defining them runs their "
                   "decorators, default values and class bodies), constant assignments without calls, then "
                   "the flagged layers' constructors, the flagged class's __init__/build/call or the function "
                   "that builds the model; for KC004 on module-level code also the straight-line module-level "
                   "statements that build the flagged tensor (never data loading, files or training). Never "
                   "other module-level code, never `if __name__ == \"__main__\":`. A finding that is `not "
                   "reproduced` does not count toward exit 1; `confirmed` and `could not build` do.")
@click.option("--confirm-timeout", type=click.FloatRange(min=1), default=60, show_default=True, metavar="SECONDS",
              help="Time limit per confirmed finding.")
@click.option("--confirm-memory", type=click.IntRange(min=512), default=4096, show_default=True, metavar="MB",
              help="Memory cap (data segment) of the confirm process.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
def check(**options) -> None:
    """Lint Python files under PATHS (default: the current directory).

    Exit status: 0 no findings, 1 findings, 2 usage or internal error. With --confirm,
    findings measured as `not reproduced` do not count toward 1 (`confirmed` and `could not
    build` do).
    """
    request = CheckRequest(**options)
    if request.baseline_file and request.write_baseline:
        _fail("--baseline and --write-baseline cannot be used together")
    if request.confirm:
        from kerascheck.confirm.runner import ConfirmUnavailable, require_tensorflow

        try:
            require_tensorflow()
        except ConfirmUnavailable as exc:
            _fail(str(exc))
    try:
        code = _check(request)
    except SystemExit:
        raise
    except BrokenPipeError:
        # stdout or stderr closed before the report was complete; the result is unknown, and
        # like click (and Python killed by SIGPIPE) that is a quiet non-zero exit, not an error.
        _streams_closed()
        sys.exit(EXIT_FINDINGS)
    except Exception as exc:
        from kerascheck.baseline import BaselineError
        from kerascheck.config import ConfigError
        from kerascheck.discover import PathError
        from kerascheck.gitdiff import GitError
        from kerascheck.registry import RegistryError

        if request.verbose:
            traceback.print_exc()
        if isinstance(exc, (ConfigError, RegistryError, PathError, BaselineError, GitError)):
            _fail(str(exc))
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    _exit(EXIT_CLEAN if request.exit_zero else code)


def _check(request: CheckRequest) -> int:
    from kerascheck import config, engine, registry

    overrides = request.overrides()
    if request.select and not overrides["select"]:  # `--select ''`, `--select ,`
        raise registry.RegistryError("--select names no rule code: give at least one (e.g. --select KC001)")
    for flag, codes in (("--select", overrides["select"]), ("--ignore", overrides["ignore"])):
        if codes is not None:
            try:
                registry.validate(codes)
            except registry.RegistryError as exc:
                raise registry.RegistryError(f"{exc} (in {flag})") from None
    settings = config.resolve(request.paths, request.config_file, overrides, registry.option_defaults(),
                              registry.validate)
    enabled = registry.enabled(settings.select, settings.ignore)
    plan = engine.Plan.make(settings, registry.load(), enabled)
    targets = _targets(request, settings)
    # Confirm mode measures afresh, so it bypasses the cache.
    result = _run(engine, targets, plan, settings, request.no_cache or request.confirm, request.output_format)
    if request.write_baseline:
        from kerascheck import baseline

        n = baseline.write(Path(request.write_baseline), result.findings)
        _note(f"kerascheck: recorded {n} finding{'s' if n != 1 else ''} in {request.write_baseline}")
        return EXIT_CLEAN
    if request.baseline_file:
        result = _apply_baseline(result, request, enabled)
    if request.confirm:  # after the baseline: hidden findings are not built
        _confirm(result, plan, request.confirm_timeout, request.confirm_memory, request.output_format)
        from kerascheck.confirm import counts_as_problem

        code = EXIT_FINDINGS if any(counts_as_problem(f.confirm) for f in result.findings) else EXIT_CLEAN
    else:
        code = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    _report(result, request)
    return code


def _targets(request: CheckRequest, settings) -> list:
    from kerascheck.discover import discover

    targets = discover(request.paths, settings)
    if request.diff_ref is not None:
        from kerascheck.gitdiff import only_changed

        targets = only_changed(targets, request.diff_ref, Path(request.paths[0]))
    return targets


def _apply_baseline(result, request: CheckRequest, enabled: set[str]):
    from kerascheck import baseline

    applied = baseline.apply(result, Path(request.baseline_file), enabled, request.paths)
    hidden, stale = applied.hidden, applied.stale
    note = f"kerascheck: baseline {request.baseline_file}: {hidden} known finding{'s' if hidden != 1 else ''} hidden"
    if stale:
        note += (f"; {stale} stale entr{'ies' if stale != 1 else 'y'} (fixed or changed; "
                 f"refresh with --write-baseline)")
    _note(note)
    return applied.result


def _report(result, request: CheckRequest) -> None:
    from kerascheck import report

    try:
        with report.output(request.output_file) as stream:
            report.get(request.output_format).render(result, stream, statistics=request.statistics)
            stream.flush()  # a closed pipe shows here, where it is handled, not at interpreter exit
    except BrokenPipeError:
        if request.output_file is not None:
            raise
        _stdout_closed()  # `| head`: the reader has what it wanted; the exit code still tells the result
    except OSError as exc:
        if request.output_file is None:
            raise
        _fail(f"cannot write {request.output_file}: {exc.strerror or exc}")


def _confirm(result, plan, timeout: float, memory_mb: int, output_format: str) -> None:
    """Fill each finding's `confirm` verdict (one TensorFlow child process for the whole run)."""
    import dataclasses

    from kerascheck.confirm.jobs import build_jobs
    from kerascheck.confirm.runner import ConfirmUnavailable, confirm_findings

    findings = [f for r in result.files for f in r.findings]
    jobs = build_jobs(findings, plan)  # each file read again: confirm gets the finding and the text
    try:
        done, stats = confirm_findings(findings, jobs, timeout, memory_mb, progress=output_format == "text")
    except ConfirmUnavailable as exc:
        _fail(str(exc))
    verdicts = iter(done)
    result.files = [dataclasses.replace(r, findings=tuple(next(verdicts) for _ in r.findings))
                    for r in result.files]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(stats.verdicts.items())) or "nothing to confirm"
    _note(f"kerascheck: confirm: {counts} in {stats.seconds:.1f} s "
          f"(TensorFlow start-up {stats.startup_seconds:.1f} s x{stats.startups})")


def _run(engine, targets, plan, settings, no_cache: bool, output_format: str):
    """The engine run, with the result cache (unless `no_cache`) and, on a terminal, a progress bar."""
    from kerascheck import progress

    cache = None
    if not no_cache:
        from kerascheck.cache import Cache

        cache = Cache(settings.root, plan)
    bar = progress.make(len(targets), output_format)
    try:
        result = engine.run(targets, plan, cache=cache, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if cache is not None:
        cache.save()
    if os.environ.get("KERASCHECK_DEBUG_STATS"):  # hidden: the cache tests read it
        _note(f"kerascheck: debug: files={len(result.files)} parsed={result.parsed} "
              f"cached={result.cached} skipped={result.skipped} statements={result.statements}")
    return result


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule with its code, name and summary.")
def rule(code, show_all) -> None:
    """Print a rule's documentation (`kerascheck rule KC001`)."""
    from kerascheck import registry

    try:
        if show_all or code is None:
            for r in registry.all_rules():
                click.echo(f"{r.code}  {r.name:<32} {r.summary}")
        else:
            import inspect

            r = registry.by_code(code)
            click.echo(f"# {r.name} ({r.code})\n")
            click.echo(f"Severity: {r.severity}\n")
            click.echo(inspect.cleandoc(r.doc))
    except registry.RegistryError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        _stdout_closed()
    _exit(EXIT_CLEAN)
