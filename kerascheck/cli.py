"""Command line: `kerascheck check PATHS`, `kerascheck rule KC001`.

Exit codes: 0 no findings, 1 findings, 2 usage error, bad config, unknown
rule code or internal error (one line on stderr; a traceback with --verbose).
"""

from __future__ import annotations

import sys
import traceback

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
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of each finding.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--force-exclude", is_flag=True, help="Apply excludes to files named on the command line too.")
@click.option("--no-respect-gitignore", is_flag=True, help="Check files .gitignore would skip.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--full-parse", is_flag=True, hidden=True, help="Debug: give libcst whole files.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
def check(paths, select, ignore, exclude, extend_exclude, config_file, output_format, exit_zero,
          statistics, jobs, force_exclude, no_respect_gitignore, no_cache, full_parse, verbose) -> None:
    """Lint Python files under PATHS (default: the current directory).

    Exit status: 0 no findings, 1 findings, 2 usage or internal error.
    """
    try:
        code = _check(paths or (".",), select, ignore, exclude, extend_exclude, config_file,
                      output_format, statistics, jobs, force_exclude, no_respect_gitignore, full_parse)
    except SystemExit:
        raise
    except Exception as exc:
        from kerascheck.config import ConfigError
        from kerascheck.discover import PathError
        from kerascheck.registry import RegistryError

        if verbose:
            traceback.print_exc()
        if isinstance(exc, (ConfigError, RegistryError, PathError)):
            _fail(str(exc))
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    sys.exit(EXIT_CLEAN if exit_zero else code)


def _check(paths, select, ignore, exclude, extend_exclude, config_file, output_format, statistics,
           jobs, force_exclude, no_respect_gitignore, full_parse) -> int:
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
    }
    settings = config.resolve(paths, config_file, overrides, registry.option_defaults())
    for codes in (settings.select or (), settings.ignore, *(c for _, c in settings.per_file_ignores)):
        registry.validate(codes)
    enabled = registry.enabled(settings.select, settings.ignore)
    plan = engine.Plan.make(settings, registry.load(), enabled)
    targets = discover(paths, settings)
    result = engine.run(targets, plan)
    report.get(output_format).render(result, sys.stdout, statistics=statistics)
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


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
