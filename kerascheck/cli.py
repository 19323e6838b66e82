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
    extend_select: tuple[str, ...] = ()
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
    quiet: bool = False  # findings only: no summary line, no notes on stderr, no progress bar
    silent: bool = False  # nothing on stdout or stderr but errors: the exit code tells
    color: str = "auto"  # auto | always | never (the text report)
    show_files: bool = False
    stdin_filename: str | None = None

    def __post_init__(self) -> None:
        if not self.paths:  # with --stdin-filename and no path, the buffer is read from stdin (as ruff)
            object.__setattr__(self, "paths", ("-",) if self.stdin_filename is not None else (".",))

    @property
    def stdin(self) -> bool:
        """The one path is `-`: check standard input (reported as --stdin-filename, or `-`)."""
        return self.paths == ("-",)

    @property
    def named_paths(self) -> tuple[str, ...]:
        """The paths the run is about: for standard input, the file NAME stands for (its config,
        its baseline entries)."""
        return (self.stdin_filename,) if self.stdin and self.stdin_filename else self.paths

    @property
    def talk(self) -> bool:
        """Whether notes (baseline counts, confirm timings) and progress bars may show."""
        return not (self.quiet or self.silent)

    def overrides(self) -> dict[str, Any]:
        return {
            "select": _codes(self.select),
            "extend_select": _codes(self.extend_select),
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


class _Option(click.Option):
    """An option some of whose names work but are not shown (`--format`, which ruff dropped for
    `--output-format`): `--help` and error messages name only the others."""

    def __init__(self, *args, hidden_names: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_names = tuple(hidden_names)

    def _shown(self, method, ctx):
        opts = self.opts
        self.opts = [o for o in opts if o not in self.hidden_names]
        try:
            return method(ctx)
        finally:
            self.opts = opts

    def get_help_record(self, ctx):
        return self._shown(super().get_help_record, ctx)

    def get_error_hint(self, ctx):
        return self._shown(super().get_error_hint, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="kerascheck")
def main() -> None:
    """kerascheck: a linter for Keras model code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES", help="Rule codes or prefixes to enable (comma-separated).")
@click.option("--extend-select", multiple=True, metavar="CODES",
              help="Rule codes or prefixes to enable on top of the selection (`--select` or the config's).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to disable (comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Replace the configured exclude globs.")
@click.option("--extend-exclude", multiple=True, metavar="GLOB", help="Exclude these globs as well.")
@click.option("--config", "config_file", type=click.Path(), help="Use this config file (pyproject.toml or kerascheck.toml).")
@click.option("--output-format", "--format", "output_format", cls=_Option, hidden_names=("--format",),
              type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True,
              help="Output format.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of each finding.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True, max=1e9), metavar="SECONDS",
              help="CPU time limit for one file's parse and analysis; a file over it is KC000 (default 20).")
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
              help="After linting, build each finding's code with TensorFlow (pip install tensorflow) in a "
                   "child process and measure whether the problem really happens: confirmed, not reproduced or "
                   "could not build. From the flagged file this runs: the imports and the top-level functions "
                   "and classes the flagged code uses (defining them runs their decorators, default values and "
                   "class bodies), constant assignments without calls, the values the flagged code reads "
                   "(defaults, call-site arguments, locals bound once that read no data and call none of the "
                   "file's functions), then the flagged layers' constructors, the flagged class's "
                   "__init__/build/call or the function that builds the model; for KC004 on module-level code "
                   "also the straight-line module-level statements that build the flagged tensor (never data "
                   "loading, files or training). Never other module-level code, never `if __name__ == "
                   "\"__main__\":`. Exit code: a finding that is `not reproduced` does not count toward exit 1; "
                   "`confirmed` and `could not build` do (a finding that could not be built is never hidden). "
                   "Ends with a table of verdicts and time per rule on stderr.")
@click.option("--confirm-timeout", type=click.FloatRange(min=1), default=60, show_default=True, metavar="SECONDS",
              help="Time limit per confirmed finding.")
@click.option("--confirm-memory", type=click.IntRange(min=512), default=4096, show_default=True, metavar="MB",
              help="Memory cap (data segment) of the confirm process.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("--quiet", "-q", is_flag=True, help="Print the findings only: no summary line, notes or progress bar.")
@click.option("--silent", "-s", is_flag=True,
              help="Print nothing but errors; the exit code tells the result (--output-file is still written).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the text report: auto means on a terminal, unless NO_COLOR is set.")
@click.option("--show-files", is_flag=True, help="Print the files that would be checked, one a line, and exit 0.")
@click.option("--stdin-filename", metavar="NAME",
              help="Check standard input (path `-`, or no path) as the file NAME: reported under NAME, with "
                   "the config, per-file ignores and --force-exclude that apply to NAME.")
@click.version_option(__version__, "--version", "-V", prog_name="kerascheck")
def check(**options) -> None:
    """Lint Python files under PATHS (default: the current directory).

    Exit status: 0 no findings, 1 findings, 2 usage or internal error. With --confirm,
    findings measured as `not reproduced` do not count toward 1; `confirmed` and `could not
    build` do: a finding that could not be built is never hidden.
    """
    request = CheckRequest(**options)
    _refuse_conflicts(request)
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


def _refuse_conflicts(request: CheckRequest) -> None:
    """Options that cannot work together are a usage error, never silently ignored."""
    if request.baseline_file and request.write_baseline:
        _fail("--baseline and --write-baseline cannot be used together")
    if request.statistics and request.output_format == "sarif":
        _fail("--statistics does not apply to --output-format sarif (a SARIF log holds every result); "
              "use --output-format text, json or github")
    if "-" in request.paths and len(request.paths) > 1:
        _fail("`-` (standard input) cannot be checked together with other paths")
    if request.stdin_filename is not None and not request.stdin:
        _fail(f"--stdin-filename names standard input: give `-` or no path, not {' '.join(request.paths)}")
    if request.stdin:
        for flag, given in (("--show-files", request.show_files), ("--write-baseline", request.write_baseline),
                            ("--diff", request.diff_ref), ("--confirm", request.confirm)):
            if given:
                _fail(f"{flag} cannot be used with standard input (`-`)")


def _check(request: CheckRequest) -> int:
    from kerascheck import config, engine, registry

    overrides = request.overrides()
    if request.select and not overrides["select"]:  # `--select ''`, `--select ,`
        raise registry.RegistryError("--select names no rule code: give at least one (e.g. --select KC001)")
    for flag, codes in (("--select", overrides["select"]), ("--extend-select", overrides["extend_select"]),
                        ("--ignore", overrides["ignore"])):
        if codes is not None:
            try:
                registry.validate(codes)
            except registry.RegistryError as exc:
                raise registry.RegistryError(f"{exc} (in {flag})") from None
    settings = config.resolve(request.named_paths, request.config_file, overrides, registry.option_defaults(),
                              registry.validate)
    enabled = registry.enabled(settings.select, settings.ignore, settings.extend_select)
    plan = engine.Plan.make(settings, registry.load(), enabled)
    if request.stdin:
        result = _check_stdin(engine, plan, request)
    else:
        targets = _targets(request, settings)
        if request.show_files:
            for target in targets:
                click.echo(target.display)
            return EXIT_CLEAN
        # Confirm mode measures afresh, so it bypasses the cache.
        result = _run(engine, targets, plan, settings, request)
    if request.write_baseline:
        from kerascheck import baseline

        n = baseline.write(Path(request.write_baseline), result.findings)
        _info(request, f"kerascheck: recorded {n} {_plural(n, 'finding')} in {request.write_baseline}")
        return EXIT_CLEAN
    if request.baseline_file:
        result = _apply_baseline(result, request, enabled)
    confirmed = None
    if request.confirm:  # after the baseline: hidden findings are not built
        confirmed = _confirm(result, plan, request)
        from kerascheck.confirm import counts_as_problem

        code = EXIT_FINDINGS if any(counts_as_problem(f.confirm) for f in result.findings) else EXIT_CLEAN
    else:
        code = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    _report(result, request)
    if confirmed is not None:
        _info(request, confirmed)  # the per-rule table ends the run (not with --quiet)
    return code


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _info(request: CheckRequest, message: str) -> None:
    """A note on stderr (counts, timings), unless --quiet or --silent."""
    if request.talk:
        _note(message)


def _check_stdin(engine, plan, request: CheckRequest):
    """Standard input, checked in memory as the file --stdin-filename names (`-` without it)."""
    import time

    from kerascheck.discover import force_excluded

    started = time.perf_counter()
    name = request.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    if request.stdin_filename and force_excluded(Path(name), plan.settings):
        files = []  # as ruff: an excluded NAME is not checked, even from stdin
    else:
        # Bytes that are not UTF-8 reach the engine as such (surrogateescape), which reports KC000.
        found = engine.check_text(data.decode("utf-8", "surrogateescape"), path=name, plan=plan)
        files = [engine.FileResult(name, tuple(found), parsed=True)]
    return engine.RunResult(files, time.perf_counter() - started)


def _targets(request: CheckRequest, settings) -> list:
    from kerascheck.discover import discover

    targets = discover(request.paths, settings)
    if request.diff_ref is not None:
        from kerascheck.gitdiff import only_changed

        targets = only_changed(targets, request.diff_ref, Path(request.paths[0]))
    return targets


def _apply_baseline(result, request: CheckRequest, enabled: set[str]):
    from kerascheck import baseline

    applied = baseline.apply(result, Path(request.baseline_file), enabled, request.named_paths)
    hidden, stale = applied.hidden, applied.stale
    note = f"kerascheck: baseline {request.baseline_file}: {hidden} known {_plural(hidden, 'finding')} hidden"
    if stale:
        note += (f"; {stale} stale entr{'ies' if stale != 1 else 'y'} (fixed or changed; "
                 f"refresh with --write-baseline)")
    _info(request, note)
    return applied.result


def _report(result, request: CheckRequest) -> None:
    from kerascheck import report

    if request.silent and request.output_file is None:
        return
    try:
        with report.output(request.output_file) as stream:
            report.get(request.output_format).render(result, stream, statistics=request.statistics,
                                                     summary=not (request.quiet or request.silent),
                                                     color=request.color)
            stream.flush()  # a closed pipe shows here, where it is handled, not at interpreter exit
    except BrokenPipeError:
        if request.output_file is not None:
            raise
        _stdout_closed()  # `| head`: the reader has what it wanted; the exit code still tells the result
    except OSError as exc:
        if request.output_file is None:
            raise
        _fail(f"cannot write {request.output_file}: {exc.strerror or exc}")


def _confirm(result, plan, request: CheckRequest) -> str:
    """Fill each finding's `confirm` verdict (one TensorFlow child process per Keras version);
    returns the summary table for the end of the run."""
    import dataclasses

    from kerascheck.confirm.jobs import build_jobs
    from kerascheck.confirm.runner import ConfirmUnavailable, confirm_findings

    findings = [f for r in result.files for f in r.findings]
    jobs = build_jobs(findings, plan)  # each file read again: confirm gets the finding and the text
    try:
        done, stats = confirm_findings(findings, jobs, request.confirm_timeout, request.confirm_memory,
                                       progress=request.output_format == "text" and request.talk)
    except ConfirmUnavailable as exc:
        _fail(str(exc))
    verdicts = iter(done)
    result.files = [dataclasses.replace(r, findings=tuple(next(verdicts) for _ in r.findings))
                    for r in result.files]
    from kerascheck.confirm.summary import table

    return table(done, stats)


def _run(engine, targets, plan, settings, request: CheckRequest):
    """The engine run, with the result cache (unless --no-cache or --confirm) and, on a terminal, a
    progress bar."""
    from kerascheck import progress

    cache = None
    if not (request.no_cache or request.confirm):
        from kerascheck.cache import Cache

        cache = Cache(settings.root, plan)
    bar = progress.make(len(targets), request.output_format, request.color) if request.talk else None
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
            from kerascheck.confirm.jobs import has_recipe

            for r in registry.all_rules():  # `confirm`: --confirm has a recipe for the rule
                click.echo(f"{r.code}  {r.name:<32} {'confirm' if has_recipe(r.code) else '-':<8} {r.summary}")
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


@main.command()
def server() -> None:
    """Run the language server (LSP over stdio) for editors; it needs pygls (the `server` extra).

    Exit status: 0 after the client's `shutdown` and `exit`, 1 without `shutdown`, 2 when
    pygls is not installed.
    """
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        _fail("`kerascheck server` needs pygls (the `server` extra): pip install pygls")
    from kerascheck.server import serve

    sys.exit(serve())
