"""Command line: `kerascheck check PATHS`, `kerascheck rule KC001`.

Exit codes: 0 no findings, 1 findings, 2 usage error, bad config, unknown
rule code or internal error (one line on stderr; a traceback with --verbose).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from kerascheck import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


def _fail(message: str) -> None:
    click.echo(f"kerascheck: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


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
                   "and measure whether the problem really happens: confirmed, not reproduced or could not "
                   "build. Runs the file's imports and the definitions the finding needs, never module-level "
                   "code. A finding that is `not reproduced` does not count toward exit 1; `confirmed` and "
                   "`could not build` do.")
@click.option("--confirm-timeout", type=click.FloatRange(min=1), default=60, show_default=True, metavar="SECONDS",
              help="Time limit per confirmed finding.")
@click.option("--confirm-memory", type=click.IntRange(min=512), default=4096, show_default=True, metavar="MB",
              help="Memory cap (data segment) of the confirm process.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
def check(paths, select, ignore, exclude, extend_exclude, config_file, output_format, exit_zero,
          statistics, jobs, force_exclude, no_respect_gitignore, no_cache, full_parse, verbose,
          output_file, baseline_file, write_baseline, report_unused_noqa, diff_ref=None,
          confirm=False, confirm_timeout=60.0, confirm_memory=4096) -> None:
    """Lint Python files under PATHS (default: the current directory).

    Exit status: 0 no findings, 1 findings, 2 usage or internal error. With --confirm,
    findings measured as `not reproduced` do not count toward 1 (`confirmed` and `could not
    build` do).
    """
    if baseline_file and write_baseline:
        _fail("--baseline and --write-baseline cannot be used together")
    ci = {"output_file": output_file, "baseline_file": baseline_file, "write_baseline": write_baseline,
          "report_unused_noqa": report_unused_noqa}
    ci.update(no_cache=no_cache, diff_ref=diff_ref)
    if confirm:
        from kerascheck.confirm.runner import ConfirmUnavailable, require_tensorflow

        try:
            require_tensorflow()
        except ConfirmUnavailable as exc:
            _fail(str(exc))
        ci.update(confirm=(confirm_timeout, confirm_memory))
    try:
        code = _check(paths or (".",), select, ignore, exclude, extend_exclude, config_file,
                      output_format, statistics, jobs, force_exclude, no_respect_gitignore, full_parse, **ci)
    except SystemExit:
        raise
    except Exception as exc:
        from kerascheck.baseline import BaselineError
        from kerascheck.config import ConfigError
        from kerascheck.discover import PathError
        from kerascheck.gitdiff import GitError
        from kerascheck.registry import RegistryError

        if verbose:
            traceback.print_exc()
        if isinstance(exc, (ConfigError, RegistryError, PathError, BaselineError, GitError)):
            _fail(str(exc))
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    sys.exit(EXIT_CLEAN if exit_zero else code)


def _check(paths, select, ignore, exclude, extend_exclude, config_file, output_format, statistics,
           jobs, force_exclude, no_respect_gitignore, full_parse, output_file=None, baseline_file=None,
           write_baseline=None, report_unused_noqa=False, no_cache=False, diff_ref=None, confirm=None) -> int:
    from kerascheck import config, engine, registry, report
    from kerascheck.discover import discover

    overrides = {
        "select": _codes(select),
        "ignore": _codes(ignore),
        "exclude": tuple(exclude) or None,
        "extend_exclude": tuple(extend_exclude) or None,
        "jobs": jobs,
        "force_exclude": force_exclude or None,
        "respect_gitignore": False if no_respect_gitignore else None,
        "full_parse": full_parse or None,
        "report_unused_noqa": report_unused_noqa or None,
    }
    settings = config.resolve(paths, config_file, overrides, registry.option_defaults())
    for codes in (settings.select or (), settings.ignore, *(c for _, c in settings.per_file_ignores)):
        registry.validate(codes)
    enabled = registry.enabled(settings.select, settings.ignore)
    plan = engine.Plan.make(settings, registry.load(), enabled)
    if confirm is not None:  # (timeout, memory): measured afresh, so the cache is bypassed
        no_cache = True
    targets = discover(paths, settings)
    if diff_ref is not None:
        from kerascheck.gitdiff import only_changed

        targets = only_changed(targets, diff_ref, Path(paths[0]))
    result = _run(engine, targets, plan, settings, no_cache, output_format)
    if write_baseline:
        from kerascheck import baseline

        n = baseline.write(Path(write_baseline), result.findings)
        click.echo(f"kerascheck: recorded {n} finding{'s' if n != 1 else ''} in {write_baseline}", err=True)
        return EXIT_CLEAN
    if baseline_file:
        from kerascheck import baseline

        applied = baseline.apply(result, Path(baseline_file), enabled, paths)
        result = applied.result
        note = f"kerascheck: baseline {baseline_file}: {applied.hidden} known finding{'s' if applied.hidden != 1 else ''} hidden"
        if applied.stale:
            note += (f"; {applied.stale} stale entr{'ies' if applied.stale != 1 else 'y'} (fixed or changed; "
                     f"refresh with --write-baseline)")
        click.echo(note, err=True)
    if confirm is not None:  # after the baseline: hidden findings are not built
        _confirm(result, plan, *confirm, output_format)
    try:
        with report.output(output_file) as stream:
            report.get(output_format).render(result, stream, statistics=statistics)
    except OSError as exc:
        if output_file is None:
            raise
        _fail(f"cannot write {output_file}: {exc.strerror or exc}")
    if confirm is not None:
        from kerascheck.confirm import counts_as_problem

        return EXIT_FINDINGS if any(counts_as_problem(f.confirm) for f in result.findings) else EXIT_CLEAN
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


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
    click.echo(f"kerascheck: confirm: {counts} in {stats.seconds:.1f} s "
               f"(TensorFlow start-up {stats.startup_seconds:.1f} s x{stats.startups})", err=True)


def _run(engine, targets, plan, settings, no_cache: bool, output_format: str):
    """The engine run, with the result cache and (on a terminal) a progress bar."""
    import os

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
        click.echo(f"kerascheck: debug: files={len(result.files)} parsed={result.parsed} "
                   f"cached={result.cached} skipped={result.skipped} statements={result.statements}", err=True)
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
            return
        r = registry.by_code(code)
    except registry.RegistryError as exc:
        _fail(str(exc))
    click.echo(f"# {r.name} ({r.code})\n")
    click.echo(f"Severity: {r.severity}\n")
    click.echo(_dedent_doc(r.doc))


def _dedent_doc(doc: str) -> str:
    import inspect

    return inspect.cleandoc(doc)


@main.command()
def server() -> None:
    """Run the language server (LSP over stdio) for editors: `pip install 'kerascheck[server]'`.

    Exit status: 0 after the client's `shutdown` and `exit`, 1 without `shutdown`, 2 when
    pygls is not installed.
    """
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        _fail("`kerascheck server` needs pygls: pip install 'kerascheck[server]'")
    from kerascheck.server import serve

    sys.exit(serve())
