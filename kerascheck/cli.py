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
    changed_since: str | None = None  # --changed-since REF: only the files changed since REF
    full_parse: bool = False
    no_project: bool = False
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
    fix: bool = False  # apply the safe fixes (--unsafe-fixes: the unsafe ones too)
    unsafe_fixes: bool = False
    diff: bool = False  # print the fixes as a unified diff, write nothing
    fix_only: bool = False  # fix, and report nothing else
    show_fixes: bool = False  # list what was fixed
    target_keras: str | None = None  # --target-keras: forced, over the config and the project's pins
    show_settings: bool = False

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
    def fixing(self) -> bool:
        """Fixes are computed: --fix, --fix-only or --diff (which writes nothing)."""
        return self.fix or self.fix_only or self.diff

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
            "project": False if self.no_project else None,
            "report_unused_noqa": self.report_unused_noqa or None,
            "force_target_keras": self.target_keras,
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
@click.option("--changed-since", metavar="REF",
              help="Check only the files changed since the git ref REF (committed, staged, unstaged, untracked).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True,
              help="With --fix, --fix-only or --diff, apply the unsafe fixes too (they may change behaviour or "
                   "file names: read them); in the report, mark them fixable.")
@click.option("--diff", is_flag=True,
              help="Print the fixes as a unified diff and write nothing; exit 1 if there is anything to fix.")
@click.option("--fix-only", is_flag=True, help="Apply the fixes and report nothing else (exit 0 unless an error).")
@click.option("--show-fixes", is_flag=True, help="List the fixes applied, per file and rule (on stderr).")
@click.option("--full-parse", is_flag=True, hidden=True, help="Debug: give libcst whole files.")
@click.option("--no-project", is_flag=True, hidden=True,
              help="Debug: check each file alone, without following its imports into the project.")
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
@click.option("--target-keras", type=click.Choice(["2", "3"]), default=None,
              help="Check as if the code ran on this Keras, whatever the project pins or the config say "
                   "(3: what breaks when the project moves to Keras 3).")
@click.option("--show-settings", is_flag=True,
              help="Print the settings each PATH is checked with (rules, Keras target and where it comes from) "
                   "and exit.")
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
                            ("--changed-since", request.changed_since), ("--confirm", request.confirm)):
            if given:
                _fail(f"{flag} cannot be used with standard input (`-`)")
    if request.fixing:
        flag = "--diff" if request.diff else "--fix-only" if request.fix_only else "--fix"
        for other, given in (("--confirm", request.confirm), ("--write-baseline", request.write_baseline)):
            if given:
                _fail(f"{flag} and {other} cannot be used together")
        if request.statistics and (request.diff or request.fix_only):
            _fail(f"--statistics does not apply to {flag}, which reports no findings")
    elif request.show_fixes:
        _fail("--show-fixes lists the fixes that --fix, --fix-only or --diff apply: give one of them")


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
    if request.show_settings:
        from kerascheck.showsettings import show

        for path in request.named_paths:
            click.echo(show(Path(path), plan))
        return EXIT_CLEAN
    data, index, dependents = None, None, []
    if request.stdin:
        data = sys.stdin.buffer.read()
        result = _check_stdin(engine, plan, request, data)
    else:
        targets, dependents, index = _targets(request, settings)
        if request.show_files:
            for target in targets:
                click.echo(target.display)
            return EXIT_CLEAN
        # Confirm mode measures afresh, so it bypasses the cache.
        result = _run(engine, targets, plan, settings, request, index, dependents)
    if request.fixing:
        # Only the files named (or changed) are written: the files that import them are reported.
        return _fix(result, plan, request, enabled, targets if data is None else None, data, index)
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


def _check_stdin(engine, plan, request: CheckRequest, data: bytes):
    """Standard input, checked in memory as the file --stdin-filename names (`-` without it)."""
    import time

    from kerascheck.discover import force_excluded

    started = time.perf_counter()
    name = request.stdin_filename or "-"
    if request.stdin_filename and force_excluded(Path(name), plan.settings):
        files = []  # as ruff: an excluded NAME is not checked, even from stdin
    else:
        # Bytes that are not UTF-8 reach the engine as such (surrogateescape), which reports KC000.
        found = engine.check_text(data.decode("utf-8", "surrogateescape"), path=name, plan=plan)
        files = [engine.FileResult(name, tuple(found), parsed=True)]
    return engine.RunResult(files, time.perf_counter() - started)


MAX_PROJECT_FILES = 20_000  # files scanned for the dependents of a few named files


def _targets(request: CheckRequest, settings) -> tuple[list, list, Any]:
    """The files to check, the files that import them (checked when affected), and the project
    index that knows both.

    With `--changed-since`, the dependents are the discovered files that import a changed one. With
    files named on the command line (pre-commit passes the changed ones), they are the
    project's files that import them: the project (the folder with pyproject.toml, setup.py or
    .git above the first file) is listed as a directory run would list it."""
    from kerascheck.discover import discover
    from kerascheck.engine import make_index

    targets = discover(request.paths, settings)
    index = make_index(settings)
    everything: list = []
    if request.changed_since is not None:
        from kerascheck.gitdiff import only_changed

        everything = targets
        targets = only_changed(targets, request.changed_since, Path(request.paths[0]))
    elif targets and all(Path(p).is_file() for p in request.paths) and not request.show_files:
        from kerascheck.project import project_root

        root = project_root(targets[0].path.parent)
        if root is not None:
            everything = discover((str(root),), settings)
            everything = everything if len(everything) <= MAX_PROJECT_FILES else []
    if not everything or not settings.project:
        return targets, [], index
    from kerascheck.source import Unreadable, read_bytes

    for target in everything:
        try:
            index.add(target.path, read_bytes(target.path), keep=False)
        except Unreadable:
            continue
    named = {t.path for t in targets}
    found = index.dependents(named, [t.path for t in everything])
    return targets, [t for t in everything if t.path in found and t.path not in named], index


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


def _report(result, request: CheckRequest, to_stderr: bool = False) -> None:
    from kerascheck import report

    if request.silent and request.output_file is None:
        return
    try:
        with report.output(request.output_file) if not to_stderr or request.output_file else \
                _stream(sys.stderr) as stream:
            report.get(request.output_format).render(result, stream, statistics=request.statistics,
                                                     summary=not (request.quiet or request.silent),
                                                     color=request.color, unsafe_fixes=request.unsafe_fixes)
            stream.flush()  # a closed pipe shows here, where it is handled, not at interpreter exit
    except BrokenPipeError:
        if request.output_file is not None:
            raise
        _stdout_closed()  # `| head`: the reader has what it wanted; the exit code still tells the result
    except OSError as exc:
        if request.output_file is None:
            raise
        _fail(f"cannot write {request.output_file}: {exc.strerror or exc}")


def _stream(stream):
    from contextlib import nullcontext

    return nullcontext(stream)


def _fix(result, plan, request: CheckRequest, enabled: set[str], targets, data: bytes | None, index=None) -> int:
    """--fix, --fix-only, --diff: fix each file that has an applicable fix, then report (or print
    the diff, or the fixed standard input). Exit 2 if a file could not be fixed as asked."""
    from kerascheck import fix

    hidden = _baseline_hider(request) if request.baseline_file else None
    write = not request.diff
    outcomes = []
    if data is not None:  # standard input: fixed in memory; the fixed buffer goes to stdout
        name = request.stdin_filename or "-"
        path = Path(name).absolute() if request.stdin_filename else None
        files = list(result.files)
        if files and any(fix.applicable(f.fix, request.unsafe_fixes) for f in files[0].findings):
            outcome = fix.fix_data(name, path, data, plan, request.unsafe_fixes, hidden)
            outcomes.append(outcome)
            files[0] = fix.remaining(outcome, files[0])
        result.files = files
    else:
        paths = {t.display: t.path for t in targets}
        files = []
        for file in result.files:
            if file.display in paths and any(fix.applicable(f.fix, request.unsafe_fixes) for f in file.findings):
                outcome = fix.fix_file(file.display, paths[file.display], plan, request.unsafe_fixes, hidden,
                                       write=write, index=index)
                outcomes.append(outcome)
                file = fix.remaining(outcome, file)
            files.append(file)
        result.files = files
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        _note(f"kerascheck: error: {outcome.display}: {outcome.error}")
    count = sum(o.count for o in outcomes)
    changed = [o for o in outcomes if o.fixed is not None]
    if request.show_fixes and not request.silent:
        _show_fixes(changed, "Would fix" if request.diff else "Fixed")
    if request.diff:
        try:
            for outcome in changed:
                click.echo(outcome.diff(), nl=False)
        except BrokenPipeError:
            _stdout_closed()
        _info(request, f"kerascheck: would fix {count} {_plural(count, 'finding')} in "
                       f"{len(changed)} {_plural(len(changed), 'file')}" if count else "kerascheck: nothing to fix")
        return EXIT_ERROR if failed else EXIT_FINDINGS if count else EXIT_CLEAN
    if data is not None:
        fixed = outcomes[0].fixed if outcomes and outcomes[0].fixed is not None else data
        try:
            sys.stdout.buffer.write(fixed)
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_closed()
    if request.baseline_file:
        result = _apply_baseline(result, request, enabled)
    result.fixed = count
    if request.fix_only:
        _info(request, f"kerascheck: fixed {count} {_plural(count, 'finding')}" if count else "kerascheck: nothing to fix")
        return EXIT_ERROR if failed else EXIT_CLEAN
    _report(result, request, to_stderr=data is not None)
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def _show_fixes(outcomes, verb: str) -> None:
    """ruff's --show-fixes list: per file, how many fixes of each rule were applied."""
    total = sum(o.count for o in outcomes)
    if not total:
        _note("No fixes applied." if verb == "Fixed" else "Nothing to fix.")
        return
    lines = [f"{verb} {total} {_plural(total, 'finding')}:"]
    for outcome in sorted(outcomes, key=lambda o: o.display):
        lines.append(f"- {outcome.display}:")
        for (code, name), n in sorted(outcome.applied.items()):
            lines.append(f"    {n:>3} x {code} ({name})")
    _note("\n".join(lines))


def _baseline_hider(request: CheckRequest):
    """For --fix with --baseline: which of a file's findings the baseline records (not fixed)."""
    from collections import Counter

    from kerascheck import baseline

    path = Path(request.baseline_file)
    recorded = Counter(baseline.load(path))

    def hidden(findings) -> set[int]:
        left = Counter(recorded)
        known = set()
        for f, key in baseline.keyed(findings, path.parent):
            if left[key] > 0:
                left[key] -= 1
                known.add(id(f))
        return known

    return hidden


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


def _run(engine, targets, plan, settings, request: CheckRequest, index=None, dependents=()):
    """The engine run, with the result cache (unless --no-cache or --confirm) and, on a terminal, a
    progress bar."""
    from kerascheck import progress

    cache = None
    if not (request.no_cache or request.confirm):
        from kerascheck.cache import Cache

        cache = Cache(settings.root, plan)
    bar = progress.make(len(targets) + len(dependents), request.output_format, request.color) if request.talk else None
    try:
        result = engine.run(targets, plan, cache=cache, progress=bar, index=index, dependents=list(dependents))
    finally:
        if bar is not None:
            bar.close()
    if cache is not None:
        cache.save()
    if os.environ.get("KERASCHECK_DEBUG_STATS"):  # hidden: the cache tests read it
        affected, candidates = result.dependents
        _note(f"kerascheck: debug: files={len(result.files)} parsed={result.parsed} "
              f"cached={result.cached} skipped={result.skipped} statements={result.statements}"
              + (f" dependents={affected} candidates={candidates}" if candidates else ""))
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
