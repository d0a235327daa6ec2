"""The ``molehunt`` command line: parse, call the API, print one clear line on errors.

Exit codes: 0 success; 1 a molehunt error (one line, traceback only with ``--debug``);
2 usage error; 3 ``--strict`` and rows were quarantined or input files were not read.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from molehunt.config import workspace_from_env
from molehunt.errors import MolehuntError, describe_os_error
from molehunt.store.workspace import Workspace

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="molehunt: find the insiders who leak your core technology.")
ingest_app = typer.Typer(no_args_is_help=True, help="Read log files into the event store.")
app.add_typer(ingest_app, name="ingest")

console = Console(stderr=True)
out = Console()

EXIT_ERROR = 1
EXIT_QUARANTINED = 3
_STRICT_HELP = "Exit 3 when any row is quarantined or any input file or folder is not read."


class _State:
    workspace: Path = Path("workspace")
    debug: bool = False
    wait: float = 0.0


state = _State()


@app.callback()
def main_options(
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", help="Workspace folder (default ./workspace or $MOLEHUNT_WORKSPACE)."
    )] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    wait: Annotated[float, typer.Option(
        "--wait", metavar="SECONDS", min=0, help="When another molehunt process is writing the"
        " workspace, wait up to this long for it to finish (default: refuse at once).")] = 0.0,
) -> None:
    """Global options."""
    state.workspace = workspace_from_env(workspace)
    state.debug = debug
    state.wait = wait


@contextmanager
def _progress() -> Iterator[Callable[[str, float | None], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}

        def report(description: str, fraction: float | None) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=100 if fraction is not None
                                                  else None)
            if fraction is not None:
                bar.update(tasks[description], completed=min(100.0, fraction * 100), total=100)

        yield report


def _run(action: Callable[[], int]) -> None:
    try:
        code = action()
    except MolehuntError as error:
        if state.debug:
            raise
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]; the next run completes or undoes what was begun")
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _print_summary(summary: Any, strict: bool) -> int:
    from molehunt.sources.ingest import format_reasons, summary_table_rows

    table = Table(title="ingest summary", title_justify="left")
    # records read and deliberately not stored (e.g. machine accounts' logons) get a column
    # of their own where there are any, so that each row still adds up on screen
    skipping = any(f.rows_skipped for f in summary.files)
    rows = [[f"{v:,}" if isinstance(v, int) else v
             for v in (*row, *((f.rows_skipped,) if skipping else ()))]
            for row, f in zip(summary_table_rows(summary), summary.files, strict=True)]
    for heading in ("file", "layout", "status"):
        table.add_column(heading, overflow="fold")
    headings = ("read", "stored", "duplicates", "quarantined", *(("skipped",) if skipping
                                                                 else ()))
    for index, heading in enumerate(headings, start=3):
        width = max([len(row[index]) for row in rows] + [len(heading)])
        table.add_column(heading, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    out.print(table)
    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    for result in summary.files:
        if result.status == "ingested" and result.note:
            console.print(f"[yellow]note:[/yellow] {escape(result.path)}: {escape(result.note)}",
                          highlight=False, soft_wrap=True)
        if result.rows_quarantined:
            console.print(
                f"[yellow]warning:[/yellow] {result.path}: {result.rows_quarantined:,} rows"
                f" quarantined ({format_reasons(result.quarantined_by_reason)});"
                f" see `molehunt quarantine show --file {shlex.quote(Path(result.path).name)}`",
                highlight=False,
            )
    for result in summary.failed:
        console.print(f"[red]error:[/red] {result.path}: {result.note}", highlight=False,
                      soft_wrap=True)
    if summary.failed:
        return EXIT_ERROR
    if summary.skipped and strict:
        console.print(f"[red]strict:[/red] {len(summary.skipped):,} input files or folders"
                      " were not read (see the notes above)", highlight=False)
        return EXIT_QUARANTINED
    if summary.rows_quarantined and strict:
        console.print("[red]strict:[/red] rows were quarantined")
        return EXIT_QUARANTINED
    return 0


@ingest_app.command("cert")
def ingest_cert(
    folder: Annotated[Path, typer.Argument(
        help="Folder of CERT-layout CSV files (r4.x-r6.x) and canonical JSONL files.")],
    strict: Annotated[bool, typer.Option(help=_STRICT_HELP)] = False,
    skip_unknown: Annotated[bool, typer.Option(
        help="Skip CSV and JSONL files of unknown layout instead of failing.")] = False,
) -> None:
    """Ingest a CERT Insider Threat Test Dataset or simulated organisation folder.

    CSV layouts are known by their header, JSONL files by their name; answers/ is never read.
    """
    from molehunt.sources.ingest import Ingestor

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            summary = Ingestor(workspace, progress, strict).ingest_cert(folder, skip_unknown)
        return _print_summary(summary, strict)

    _run(action)


@ingest_app.command("auto")
def ingest_auto(
    folder: Annotated[Path, typer.Argument(
        help="Folder of log files of any known layout (CERT, canonical JSONL, Microsoft 365"
             " audit log, ...).")],
    strict: Annotated[bool, typer.Option(help=_STRICT_HELP)] = False,
    skip_unknown: Annotated[bool, typer.Option(
        help="Skip files of unknown layout instead of failing.")] = False,
) -> None:
    """Ingest a folder, recognising each file's layout on its own (by content or header).

    Canonical JSONL files are known by their name; answers/ is never read.
    """
    from molehunt.sources.ingest import Ingestor

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            summary = Ingestor(workspace, progress, strict).ingest_auto(folder, skip_unknown)
        return _print_summary(summary, strict)

    _run(action)


def _record_family_command(family: str, title: str) -> None:
    """Register ``molehunt ingest <family> FILE|DIR...`` for one family of record layouts."""

    def command(
        paths: Annotated[list[Path], typer.Argument(help="Files, or folders of files.")],
        strict: Annotated[bool, typer.Option(help=_STRICT_HELP)
                          ] = False,
        skip_unknown: Annotated[bool, typer.Option(
            help="Skip files in the folders that are not of this source.")] = False,
    ) -> None:
        from molehunt.sources.ingest import Ingestor

        def action() -> int:
            with Workspace(state.workspace).locked(state.wait) as workspace, \
                    _progress() as progress:
                summary = Ingestor(workspace, progress, strict).ingest_records(paths, family,
                                                                       skip_unknown)
            return _print_summary(summary, strict)

        _run(action)

    command.__doc__ = f"Ingest {family} files or folders: {title}."
    ingest_app.command(family)(command)


def _register_record_families() -> None:
    """One ``ingest`` command per family of record layouts: a new source needs no CLI edit."""
    from molehunt.sources.base import record_layouts

    titles: dict[str, str] = {}
    for layout in record_layouts():
        titles.setdefault(layout.family, layout.family_title
                          or (layout.__doc__ or layout.name).splitlines()[0])
    for family, title in sorted(titles.items()):
        _record_family_command(family, title.rstrip("."))


_register_record_families()


@ingest_app.command("jsonl")
def ingest_jsonl(
    files: Annotated[list[Path], typer.Argument(help="JSONL files, one object per line.")],
    table: Annotated[str, typer.Option(
        help="Table the lines belong to: events, hr_events, directory or documents.")
    ] = "events",
    source: Annotated[str, typer.Option(
        help="events.source for lines that do not name one.")] = "jsonl",
    strict: Annotated[bool, typer.Option(help=_STRICT_HELP)] = False,
) -> None:
    """Ingest JSONL files in molehunt's canonical schema."""
    from molehunt.sources.ingest import Ingestor

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            summary = Ingestor(workspace, progress, strict).ingest_jsonl(files, table, source)
        return _print_summary(summary, strict)

    _run(action)


# -- pull: collect audit logs from a service's API into files ------------------------------
pull_app = typer.Typer(no_args_is_help=True, help="Collect audit logs from a service's API"
                       " into a folder of raw files that `molehunt ingest` reads.")
app.add_typer(pull_app, name="pull")
_FROM_HELP = ("Start here (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC unless an offset is given)"
              " instead of where the folder's checkpoint ends.")
_TO_HELP = "End here instead of now (the time format of --from)."


def _pull_time(value: str | None, option: str) -> datetime | None:
    from molehunt.collect._state import parse_utc

    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time such as 2024-03-05 or"
                                 " 2024-03-05T10:30", param_hint=option) from None


def _print_pull(result: Any) -> int:
    table = Table(title=f"pull {result.service} → {result.folder}", title_justify="left")
    unit = "blobs" if result.service == "m365" else "pages"
    table.add_column("stream", no_wrap=True)
    for heading in (unit, "records", "files"):
        table.add_column(heading, justify="right")
    table.add_column("up to (UTC)", no_wrap=True)
    for stream in result.streams:
        table.add_row(stream.name, f"{stream.fetched:,}", f"{stream.records:,}",
                      f"{len(stream.files):,}",
                      f"{stream.done_until:%Y-%m-%d %H:%M}" if stream.done_until else "")
    out.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False,
                      soft_wrap=True)
    return 0


def _pull_report(line: str) -> None:
    console.print(escape(line), highlight=False, soft_wrap=True)


@pull_app.command("m365")
def pull_m365_command(
    folder: Annotated[Path, typer.Argument(
        help="Folder of the raw files (and of the checkpoint that says how far they go).")],
    start: Annotated[str | None, typer.Option("--from", metavar="TIME", help=_FROM_HELP)
                     ] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="TIME", help=_TO_HELP)] = None,
    content_types: Annotated[list[str] | None, typer.Option(
        "--content-type", help="Only this content type (repeatable; default: content_types"
        " of pull.m365 in molehunt.toml).")] = None,
) -> None:
    """Pull the Microsoft 365 audit log (Management Activity API) into FOLDER.

    Goes on from where the last pull into FOLDER ended; then `molehunt ingest m365 FOLDER`.
    Settings: the pull.m365 table of the workspace's molehunt.toml (tenant_id, client_id
    and the secret's environment variable or file). The API lists the last 7 days only.
    """
    from molehunt.collect import m365_settings
    from molehunt.collect.m365 import pull_m365
    from molehunt.collect.settings import M365_CONTENT_TYPES
    from molehunt.config import Settings

    first, last = _pull_time(start, "--from"), _pull_time(end, "--to")
    for content_type in content_types or ():
        if content_type not in M365_CONTENT_TYPES:
            raise typer.BadParameter(f"{content_type!r} is not one of"
                                     f" {', '.join(M365_CONTENT_TYPES)}",
                                     param_hint="--content-type")

    def action() -> int:
        settings = m365_settings(Settings.load(state.workspace), state.workspace)
        with _progress() as progress:
            result = pull_m365(settings, folder, start=first, end=last,
                               content_types=content_types, report=_pull_report,
                               progress=progress)
        return _print_pull(result)

    _run(action)


@pull_app.command("gworkspace")
def pull_gworkspace_command(
    folder: Annotated[Path, typer.Argument(
        help="Folder of the raw files (and of the checkpoint that says how far they go).")],
    start: Annotated[str | None, typer.Option("--from", metavar="TIME", help=_FROM_HELP)
                     ] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="TIME", help=_TO_HELP)] = None,
    applications: Annotated[list[str] | None, typer.Option(
        "--application", help="Only this application (repeatable; default: applications of"
        " pull.gworkspace in molehunt.toml).")] = None,
) -> None:
    """Pull Google Workspace activities (Admin SDK Reports API) into FOLDER.

    Goes on from where the last pull into FOLDER ended; then `molehunt ingest gworkspace
    FOLDER`. Settings: the pull.gworkspace table of the workspace's molehunt.toml (the
    service account's key file and the admin it acts as). The API keeps 180 days.
    """
    from molehunt.collect import gworkspace_settings
    from molehunt.collect.gworkspace import pull_gworkspace
    from molehunt.config import Settings

    first, last = _pull_time(start, "--from"), _pull_time(end, "--to")

    def action() -> int:
        settings = gworkspace_settings(Settings.load(state.workspace), state.workspace)
        with _progress() as progress:
            result = pull_gworkspace(settings, folder, start=first, end=last,
                                     applications=applications, report=_pull_report,
                                     progress=progress)
        return _print_pull(result)

    _run(action)
# -- end of pull ------------------------------------------------------------------------------


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    backend: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
) -> None:
    """Show what the store holds: events per source and month, people, quarantine."""
    from molehunt.store.status import store_status

    def action() -> int:
        report = store_status(Workspace(state.workspace), backend)
        if as_json:
            out.print_json(json.dumps(report))
            return 0
        _print_status(report)
        return 0

    _run(action)


# -- config: the workspace's settings --------------------------------------------------------
config_app = typer.Typer(no_args_is_help=True, help="The workspace's settings (molehunt.toml).")
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate <workspace>/molehunt.toml and print the effective settings (defaults filled
    in) as TOML, or the one line that says what is wrong (exit 1).

    Checks every key's type and bounds, the detector sections (names, parameters, enabled)
    and that the domain category files can be read.
    """
    import tomllib

    from molehunt.config import SETTINGS_FILE, Settings
    from molehunt.detectors import build
    from molehunt.domains import load_domain_categories
    from molehunt.errors import ConfigError, DetectorError

    def action() -> int:
        settings = Settings.load(state.workspace)
        path = state.workspace / SETTINGS_FILE
        try:
            build(settings.detectors)
        except DetectorError as error:  # [detectors.<name>] of this file
            raise ConfigError(error.message, where=str(path)) from None
        load_domain_categories(settings.domain_category_files, settings.competitors)
        text = settings.to_toml()
        if as_json:
            out.print_json(json.dumps(tomllib.loads(text), default=str))
        else:
            typer.echo(text, nl=False)
        console.print(f"{path}: valid" if path.exists() else
                      f"no {path}: the defaults apply", highlight=False)
        return 0

    _run(action)
# -- end of config ------------------------------------------------------------------------------


# -- quarantine: the rows that could not be stored -------------------------------------------
quarantine_app = typer.Typer(no_args_is_help=True, help="See the rows ingest could not store:"
                             " file, line, reason and raw text.")
app.add_typer(quarantine_app, name="quarantine")
FileOption = Annotated[str | None, typer.Option(
    "--file", help="Only this input file: its path, or its last parts (logon.csv).")]
ReasonOption = Annotated[str | None, typer.Option(
    "--reason", help="Only this reason, or the reasons starting with it (any case).")]
#: Characters of a raw line that ``quarantine show`` prints.
_SHOW_RAW_CHARS = 2000
SupersededOption = Annotated[bool, typer.Option(
    "--include-superseded", help="Also the rows of files ingested again since.")]


def _quarantine_reader(file: str | None, reason: str | None, superseded: bool) -> Any:
    from molehunt.store.quarantine import QuarantineFilter, QuarantineReader

    return QuarantineReader(Workspace(state.workspace),
                            QuarantineFilter(file, reason, superseded))


@quarantine_app.command("list")
def quarantine_list(
    file: FileOption = None,
    reason: ReasonOption = None,
    include_superseded: SupersededOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Count the quarantined rows per file and reason."""
    from rich.text import Text

    def action() -> int:
        with _quarantine_reader(file, reason, include_superseded) as reader:
            counts = reader.counts()
        total = sum(c.rows for c in counts)
        if as_json:
            out.print_json(json.dumps({"quarantined_total": total, "by_file_and_reason": [
                {"file": c.file, "reason": c.reason, "rows": c.rows} for c in counts]}))
            return 0
        if not counts:
            out.print("quarantine: empty" + (" (for this selection)" if file or reason else ""))
            return 0
        table = Table(title=f"quarantine: {total:,} rows", title_justify="left")
        table.add_column("file", overflow="fold")
        table.add_column("reason", overflow="fold")
        table.add_column("rows", justify="right")
        for count in counts:
            table.add_row(Text(count.file), Text(count.reason), f"{count.rows:,}")
        out.print(table)
        return 0

    _run(action)


@quarantine_app.command("show")
def quarantine_show(
    file: FileOption = None,
    reason: ReasonOption = None,
    include_superseded: SupersededOption = False,
    limit: Annotated[int, typer.Option(help="Rows to show at most.", min=1)] = 50,
    offset: Annotated[int, typer.Option(help="Rows to pass over first.", min=0)] = 0,
) -> None:
    """Show quarantined rows by file and line: reason, detail and the raw text.

    Control characters of the raw text are shown as \\xNN, so a hostile line cannot drive
    the terminal; a raw text longer than 2,000 characters is cut there (export has it all).
    """
    from molehunt.store.quarantine import printable

    def action() -> int:
        with _quarantine_reader(file, reason, include_superseded) as reader:
            total = reader.total()
            shown = 0
            for row in reader.rows(limit, offset):
                where = f"{row['file']}:{row['line']}" if row["line"] is not None else row["file"]
                detail = f" ({row['detail']})" if row["detail"] else ""
                typer.echo(printable(f"{where}: {row['reason']}{detail}"))
                raw = printable(row["raw"] or "")
                if len(raw) > _SHOW_RAW_CHARS:  # a 4 MiB line would flood the terminal
                    raw = (f"{raw[:_SHOW_RAW_CHARS]}… (+{len(raw) - _SHOW_RAW_CHARS:,}"
                           " characters; `quarantine export` has them all)")
                typer.echo("    " + raw)
                shown += 1
        if shown == 0:
            console.print(f"no quarantined rows to show ({total:,} selected)", highlight=False)
        elif shown < total:
            console.print(f"rows {offset + 1:,} to {offset + shown:,} of {total:,}; more with"
                          f" --offset {offset + shown} (and --limit)", highlight=False)
        return 0

    _run(action)


@quarantine_app.command("export")
def quarantine_export(
    out_file: Annotated[Path, typer.Option("--out", help="A .csv or .jsonl file.")],
    file: FileOption = None,
    reason: ReasonOption = None,
    include_superseded: SupersededOption = False,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv or jsonl (default: by the file's extension).")] = None,
) -> None:
    """Write the quarantined rows (file, line, layout, reason, detail, raw, batch) to CSV or
    JSONL. CSV cells that a spreadsheet could take for a formula start with ' ."""
    from molehunt.store.quarantine import export_format, export_quarantine

    def action() -> int:
        chosen = export_format(out_file, fmt)
        with _quarantine_reader(file, reason, include_superseded) as reader:
            rows = export_quarantine(reader, out_file, chosen)
        console.print(f"wrote {rows:,} quarantined rows to {out_file}", highlight=False)
        return 0

    _run(action)
# -- end of quarantine --------------------------------------------------------------------------


features_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                            help="Compute behavioural features (per person and day).")
app.add_typer(features_app, name="features")


@features_app.callback()
def features(
    context: typer.Context,
    backend: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    rebuild: Annotated[bool, typer.Option(
        help="Recompute every day instead of only the days not yet computed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compute the feature tables for the days not yet computed (a daily run costs one day)."""
    if context.invoked_subcommand is not None:
        return
    from molehunt.features.build import build_features

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            summary = build_features(workspace, backend, rebuild=rebuild,
                                     progress=lambda _step, done: progress("features", done))
        if as_json:
            out.print_json(json.dumps(summary.to_json()))
        elif summary.start is None:
            console.print("features are up to date")
        else:
            console.print(f"features computed for {summary.days} days ({summary.start} to "
                          f"{summary.end}), {summary.user_days:,} person-days, "
                          f"{summary.seconds:.1f} s on {summary.backend}")
        return 0

    _run(action)


@features_app.command("list")
def features_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every feature with its unit, window and meaning."""
    from molehunt.features.catalogue import UNITS, catalogue

    rows = [{"name": f.name, "family": f.family, "unit": f.unit, "window": f.window,
             "definition": f.definition, "observes": list(f.observes)} for f in catalogue()]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("feature", "family", "unit", "meaning")
    for f in catalogue():
        table.add_row(f.name, f.family, UNITS[f.unit], f.definition)
    out.print(table)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the organisation to.")],
    users: Annotated[int, typer.Option(help="People over the whole period.")] = 1000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 500,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2010-01-04",
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    layout: Annotated[str | None, typer.Option(
        help="CERT release whose file layout is written: r4.2, r5.2 or r6.2 (default: the"
             " telemetry profile's, else r6.2).")] = None,
    style: Annotated[str, typer.Option(
        help="Organisation style (the company's culture): baseline, night_shift, consultancy,"
             " startup, random (every knob drawn from the seed) or auto (one of the named"
             " styles drawn from the seed).")] = "baseline",
    directory: Annotated[Path | None, typer.Option(
        help="Folder of CERT monthly LDAP files (YYYY-MM.csv) to take the people from.")] = None,
    scenarios: Annotated[str, typer.Option(
        help="Comma-separated scenario codes (C1-C5, S1-S4), 'all' or 'none'.")] = "all",
    insiders_per_scenario: Annotated[int, typer.Option(
        help="Insiders (scenario instances) per scenario.")] = 1,
    intensity: Annotated[list[str] | None, typer.Option(
        help="Scenario parameter, e.g. C2.volume=4 or S2.accomplices=5 (repeatable).")] = None,
    telemetry: Annotated[str, typer.Option(
        help="What gets logged: full, cert-r6.2, cert-r5.2, cert-r4.2, sparse, or enterprise"
             " (Microsoft 365 audit log, Windows Security events via Winlogbeat, a Zscaler"
             " proxy, the Purview HR CSV and the directory: read it with `ingest auto`). The"
             " same people and acts; only the logs differ.")] = "full",
) -> None:
    """Simulate an organisation with labelled insiders, in CERT layout plus JSONL (or, with
    ``--telemetry enterprise``, in the vendors' formats)."""
    from datetime import date

    from molehunt.errors import ConfigError
    from molehunt.simulate import ALL_SCENARIOS, SimulationConfig
    from molehunt.simulate import simulate as run_simulation
    from molehunt.simulate.output import TELEMETRY

    def action() -> int:
        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise ConfigError(f"--start {start!r} is not a YYYY-MM-DD date") from None
        codes = {"all": ALL_SCENARIOS, "none": ()}.get(scenarios.strip().lower())
        if codes is None:
            codes = tuple(c.strip().upper() for c in scenarios.split(",") if c.strip())
        profile = TELEMETRY.get(telemetry)
        if profile is None:
            raise ConfigError(f"--telemetry {telemetry!r}: expected one of"
                              f" {', '.join(TELEMETRY)}")
        if layout is not None and profile.layout not in (None, layout):
            raise ConfigError(f"--telemetry {telemetry} writes the {profile.layout} layout;"
                              f" --layout {layout} contradicts it")
        config = SimulationConfig(
            out=out_dir, users=users, days=days, start=first, seed=seed,
            layout=layout or profile.layout or "r6.2", style=style,
            directory=directory, scenarios=codes, insiders_per_scenario=insiders_per_scenario,
            intensity=_parse_intensity(intensity or []), telemetry=telemetry)
        with _progress() as progress:
            result = run_simulation(config, progress)
        written = (f"{config.effective_layout}, " if profile.formats == "cert" else "")
        out.print(f"wrote {result.events:,} events of {len(result.organisation.people):,} people"
                  f" over {days} days to {out_dir} ({written}telemetry {telemetry});"
                  f" {len(result.instances)} scenario instances; truth in {out_dir / 'answers'}",
                  highlight=False)
        if profile.formats == "enterprise":
            out.print(f"read it with `molehunt ingest auto {out_dir}`; its sensitivity label ids"
                      f" ([sensitivity_labels] in molehunt.toml) are in"
                      f" {out_dir / 'company.json'}", highlight=False, markup=False)
        if style != "baseline":  # says which style "auto" drew, and where "random"'s knobs are
            out.print(f"organisation style: {result.organisation.style.name} (its knobs:"
                      f" style_knobs in {out_dir / 'company.json'})", highlight=False)
        for note in result.notes:
            console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        return 0

    _run(action)


# -- protect: the protected corpus (crown jewels) ---------------------------------------------
protect_app = typer.Typer(no_args_is_help=True,
                          help="The protected corpus: register crown jewels, match texts.")
app.add_typer(protect_app, name="protect")


@protect_app.command("add")
def protect_add_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Files (text, Markdown, source, PDF, DOCX) or folders to protect.")],
    label: Annotated[str | None, typer.Option(
        help="Sensitivity that overrides the markings: 0-4, a level name or a marking.")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Project the documents belong to.")
                       ] = None,
) -> None:
    """Register documents in the protected corpus (classified by markings and rules)."""
    from molehunt.content.protect import protect_add

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            result = protect_add(workspace, paths, label, project, progress)
        for document in result.added:
            verb = "replaced" if document.doc_id in result.replaced else "added"
            out.print(f"{verb} {document.doc_id} sensitivity {document.sensitivity}"
                      f" ({document.marking or 'no marking'}; {document.language},"
                      f" {document.kind}, {document.fingerprints} fingerprints) {document.path}",
                      highlight=False, soft_wrap=True)
        for path in result.unchanged:
            out.print(f"unchanged {path}", highlight=False, soft_wrap=True)
        for error in result.errors:
            console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        return EXIT_ERROR if result.errors else 0

    _run(action)


@protect_app.command("import")
def protect_import_command(
    min_sensitivity: Annotated[int, typer.Option(
        help="Protect documents of at least this sensitivity (0-4).")] = 2,
) -> None:
    """Protect the documents of the workspace's documents table (e.g. a simulated corpus)."""
    from molehunt.content.protect import protect_from_store

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            result = protect_from_store(workspace, min_sensitivity, progress)
        out.print(f"protected {len(result.added):,} documents ({len(result.replaced):,}"
                  f" replaced, {len(result.unchanged):,} unchanged)", highlight=False)
        return 0

    _run(action)


@protect_app.command("list")
def protect_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the protected documents."""
    from dataclasses import asdict

    from molehunt.content.protect import protect_list

    def action() -> int:
        documents = protect_list(Workspace(state.workspace))
        if as_json:
            for document in documents:
                typer.echo(json.dumps(asdict(document), ensure_ascii=False))
            return 0
        table = Table(title=f"protected documents: {len(documents):,}", title_justify="left")
        for heading in ("doc_id", "sensitivity", "marking", "project", "language", "kind",
                        "chars", "path"):
            table.add_column(heading, overflow="fold")
        for d in documents:
            table.add_row(d.doc_id, str(d.sensitivity), d.marking or "", d.project or "",
                          d.language or "", d.kind or "", f"{d.chars:,}", d.path or "")
        out.print(table)
        return 0

    _run(action)


@protect_app.command("remove")
def protect_remove_command(
    items: Annotated[list[str], typer.Argument(help="Document ids or paths to remove.")],
) -> None:
    """Remove documents from the protected corpus."""
    from molehunt.content.protect import protect_remove

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace:
            removed = protect_remove(workspace, items)
        for doc_id in removed:
            out.print(f"removed {doc_id}", highlight=False)
        missing = len(items) - len(removed)
        if missing:
            console.print(f"[red]error:[/red] {missing} of {len(items)} not in the protected"
                          " corpus", highlight=False)
            return EXIT_ERROR
        return 0

    _run(action)


@protect_app.command("match")
def protect_match_command(
    file: Annotated[str, typer.Argument(help="A file to check, or - for standard input.")],
) -> None:
    """Show which protected documents a text contains, and what fraction of each."""
    from molehunt.content.extract import extract_text
    from molehunt.content.foreign import find_foreign_markings
    from molehunt.content.index import MatchParams
    from molehunt.content.protect import open_index

    def action() -> int:
        workspace = Workspace(state.workspace)
        text = sys.stdin.read() if file == "-" else extract_text(Path(file)).text
        settings = workspace.settings()
        index = open_index(workspace)
        by_id = {d.doc_id: d for d in index.documents()}
        matches = index.match_text(text, MatchParams(min_hits=settings.content_min_hits))
        table = Table(title=f"{len(matches)} protected documents found", title_justify="left")
        for heading in ("doc_id", "matched", "sensitivity", "title", "path"):
            table.add_column(heading, overflow="fold")
        for m in matches:
            d = by_id.get(m.doc_id)
            table.add_row(m.doc_id, f"{m.matched_fraction:.1%}", str(m.sensitivity),
                          d.title or "" if d else "", d.path or "" if d else "")
        out.print(table)
        for found in find_foreign_markings(text, settings.company_names,
                                           settings.foreign_companies):
            out.print(f"foreign marking: {found.owner} {found.marking}"
                      f" (sensitivity {found.sensitivity})", highlight=False)
        return 0

    _run(action)


@protect_app.command("scan")
def protect_scan_command(
    first: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
) -> None:
    """Match outbound events and find foreign markings in inbound events over a day range."""
    from datetime import date

    from molehunt.content.protect import match_events, scan_foreign_markings
    from molehunt.errors import ConfigError

    def action() -> int:
        try:
            days = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            raise ConfigError("--from and --to must be YYYY-MM-DD dates") from None
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            for result in (match_events(workspace, *days, progress),
                           scan_foreign_markings(workspace, *days, progress)):
                out.print(f"{result.table}: {result.rows:,} rows from"
                          f" {result.events_scanned:,} events (batch {result.batch_id})",
                          highlight=False)
        return 0

    _run(action)
# -- end of protect ---------------------------------------------------------------------------


# -- the analyst console ------------------------------------------------------------------
audit_app = typer.Typer(no_args_is_help=True, help="Check the audit log and evidence bundles.")
app.add_typer(audit_app, name="audit")
accounts_app = typer.Typer(no_args_is_help=True, help="Console accounts.")
app.add_typer(accounts_app, name="accounts")
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="Analyst store (default: $MOLEHUNT_DATABASE_URL, else"
    " <workspace>/console/console.sqlite).")]


def _case_store(database_url: str | None, *, append_only: bool = False,
                anchor: bool = True) -> Any:
    """The analyst store, its audit entries keyed with the workspace's audit key
    (:func:`molehunt.cases.audit.open_chain`)."""
    from molehunt.cases.audit import open_chain
    from molehunt.cases.store import CONSOLE_DIR, default_database_url, open_store

    store = open_store(database_url or default_database_url(state.workspace))
    open_chain(store, state.workspace / CONSOLE_DIR, append_only=append_only, anchor=anchor)
    return store


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database_url: DatabaseOption = None,
    new_admin_password: Annotated[bool, typer.Option(
        "--new-admin-password", help="Give the 'admin' account a fresh random password and"
        " print it.")] = False,
    secure_cookies: Annotated[bool, typer.Option(
        help="Mark cookies Secure (set when served over HTTPS, e.g. behind a proxy).")] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(
        envvar="MOLEHUNT_FORWARDED_ALLOW_IPS",
        help="Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed"
        " (default: none, so every client is known by its own address).")] = "",
) -> None:
    """Run the analyst console (web pages and the JSON API under /api/v1)."""

    def action() -> int:
        import uvicorn

        from molehunt.cases.accounts import ensure_admin
        from molehunt.web.app import create_app, server_options

        store = _case_store(database_url, append_only=True)
        with store.transaction() as session:
            password = ensure_admin(session, reset=new_admin_password)
        application = create_app(state.workspace, store=store, secure_cookies=secure_cookies)
        url = f"http://{host}:{port}/"
        out.print(f"molehunt console: {url}", highlight=False)
        if password:
            out.print(f"admin password: {password}  (user name: admin)", highlight=False)
        uvicorn.run(application, host=host, port=port, log_level="warning",
                    **server_options(forwarded_allow_ips))
        return 0

    _run(action)


@audit_app.command("verify")
def audit_verify(database_url: DatabaseOption = None) -> None:
    """Walk the audit log's keyed chain and hold it against the signed checkpoints; exit 1
    naming the first bad entry."""
    from molehunt.cases.audit import CHECKPOINT_FILE, missing_append_only_triggers, verify

    def action() -> int:
        store = _case_store(database_url, anchor=False)
        result = verify(store)
        missing = missing_append_only_triggers(store)
        if missing:
            console.print(f"[yellow]warning:[/yellow] the append-only triggers are missing or"
                          f" disabled ({', '.join(missing)})", highlight=False)
        if result.foreign:
            console.print(f"[yellow]warning:[/yellow] {result.foreign:,} checkpoints in"
                          f" {CHECKPOINT_FILE} belong to another chain (another store, or this"
                          " log's first entries were replaced)", highlight=False)
        if result.ok:
            anchored = (f"; holds against the signed checkpoint of entry {result.anchored:,}"
                        if result.anchored else "; no signed checkpoint of it yet")
            out.print(f"audit log intact: {result.entries:,} entries, head {result.head}"
                      f"{anchored}", highlight=False)
            return 0
        console.print(f"[red]audit log broken:[/red] {result.problem}", highlight=False)
        return EXIT_ERROR

    _run(action)


@audit_app.command("checkpoint")
def audit_checkpoint(
    siem: Annotated[str | None, typer.Option(
        envvar="MOLEHUNT_AUDIT_SIEM",
        help="Also send it to syslog://HOST:PORT, syslog+tcp://HOST:PORT or an http(s)"
        " webhook.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Sign the audit log's current head and append it to the checkpoint file (run it on a
    schedule; the console also writes one every 100 entries)."""
    import json as json_module

    from molehunt.cases.audit import write_checkpoint
    from molehunt.cases.siem import checkpoint_sender

    def action() -> int:
        send = checkpoint_sender(siem) if siem else None
        store = _case_store(database_url, anchor=False)
        checkpoint = write_checkpoint(store)
        out.print(json_module.dumps(checkpoint.to_json()), highlight=False, soft_wrap=True)
        if send is not None:
            send(checkpoint.to_json())
            console.print(f"sent to {siem}", highlight=False)
        return 0

    _run(action)


@audit_app.command("public-key")
def audit_public_key(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the PEM to this file instead of printing it.")] = None,
) -> None:
    """Print the audit key's Ed25519 public key (PEM) and fingerprint: what an auditor needs
    to verify evidence bundles and checkpoints offline."""
    from molehunt.cases.auditkey import load_or_create_key
    from molehunt.cases.store import CONSOLE_DIR

    def action() -> int:
        key = load_or_create_key(state.workspace / CONSOLE_DIR)
        if out_file is not None:
            out_file.write_text(key.public_pem, "ascii")
            console.print(f"wrote {out_file} ({key.fingerprint})", highlight=False)
        else:
            out.print(key.public_pem, end="", highlight=False)
            console.print(key.fingerprint, highlight=False)
        return 0

    _run(action)


@audit_app.command("verify-bundle")
def audit_verify_bundle(
    bundle: Annotated[Path, typer.Argument(help="An evidence bundle (zip).")],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The trusted audit public key (PEM, from `molehunt audit"
        " public-key`): check the signature with it, offline, without the audit log.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Check an evidence bundle's files, chained manifest and signature; without --public-key
    also that its export is a sound entry of the workspace's audit log."""
    import json as json_module

    import sqlalchemy as sa

    from molehunt.cases.audit import entry_holds, keyed_from
    from molehunt.cases.auditkey import load_public_key
    from molehunt.cases.bundle import verify_bundle
    from molehunt.cases.models import AuditEntry
    from molehunt.errors import ConfigError

    def action() -> int:
        store = None
        if public_key is not None:
            try:
                trusted = load_public_key(public_key.read_bytes(), str(public_key))
            except OSError as error:
                raise ConfigError(f"cannot read the public key: {error.strerror}",
                                  where=str(public_key)) from None
        else:
            store = _case_store(database_url, anchor=False)
            trusted = store.audit_key.public
        ok, head, problems = verify_bundle(bundle, trusted)
        for problem in problems:
            console.print(f"[red]bundle:[/red] {problem}", highlight=False)
        if not ok:
            return EXIT_ERROR
        if store is None:
            out.print(f"bundle intact and signed: chain head {head}", highlight=False)
            return 0
        switch = keyed_from(store)
        with store.sessions() as session:
            logged = [e for e in session.scalars(sa.select(AuditEntry).where(
                AuditEntry.action == "case.export"))
                if json_module.loads(e.details).get("chain_head") == head]
        if not logged:
            console.print("[red]bundle:[/red] its chain head is not in the audit log",
                          highlight=False)
            return EXIT_ERROR
        if not any(entry_holds(e, store.audit_key, switch) for e in logged):
            console.print(f"[red]bundle:[/red] the audit entry of its export (entry"
                          f" {logged[0].seq}) was not written by the console (its keyed hash"
                          " does not hold)", highlight=False)
            return EXIT_ERROR
        out.print(f"bundle intact, signed and logged (entry {logged[0].seq}): chain head"
                  f" {head}", highlight=False)
        return 0

    _run(action)


@accounts_app.command("create")
def accounts_create(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin, analyst, investigator, auditor or"
                                      " privacy_officer.")] = "analyst",
    database_url: DatabaseOption = None,
) -> None:
    """Create an account with a random password (printed once).

    This is the server operator's path (it opens the database, as the console does) and the
    way to make the first privacy officer: in the console, an investigator, privacy officer
    or admin account waits for a second admin's or a privacy officer's approval.
    """
    from molehunt.cases.accounts import create_account, generate_password
    from molehunt.cases.audit import record
    from molehunt.cases.models import PRIVILEGED_ROLES

    def action() -> int:
        password = generate_password()
        with _case_store(database_url).transaction() as session:
            account = create_account(session, username, password, role)
            record(session, actor="cli", role="admin", action="account.create",
                   target=account.username, details={
                       "role": role, "client": "cli",
                       "privileged": role in PRIVILEGED_ROLES,
                       "approval": "none: the server's command line"})
        out.print(f"created {account.username} ({role}); password: {password}",
                  highlight=False)
        return 0

    _run(action)


@accounts_app.command("reset-password")
def accounts_reset_password(
    username: Annotated[str, typer.Argument(help="User name.")],
    database_url: DatabaseOption = None,
) -> None:
    """Give an account a new random password (printed once); ends its sessions and revokes
    its API tokens."""
    from molehunt.cases.accounts import find_account, generate_password, hash_password
    from molehunt.cases.accounts import set_password as store_password
    from molehunt.cases.audit import record
    from molehunt.errors import ConfigError

    def action() -> int:
        password = generate_password()
        hashed = hash_password(password)
        with _case_store(database_url).transaction() as session:
            account = find_account(session, username)
            if account is None:
                raise ConfigError(f"no account {username!r}")
            store_password(session, account, hashed)
            record(session, actor="cli", role="admin", action="account.password_reset",
                   target=account.username, details={
                       "client": "cli", "approval": "none: the server's command line"})
        out.print(f"new password for {account.username}: {password}  (its sessions and API"
                  " tokens are ended)", highlight=False)
        return 0

    _run(action)


def _ocsf_records(since: str | None, database_url: str | None) -> list[dict[str, Any]]:
    """The console's alerts (imported first) as OCSF records, pseudonymous."""
    from molehunt.cases.accounts import Principal
    from molehunt.cases.ocsf import ocsf_records
    from molehunt.cases.service import Console
    from molehunt.export import require_results

    require_results(Workspace(state.workspace), "alerts")
    service = Console(state.workspace, _case_store(database_url))
    try:
        service.import_alerts()
        alerts = service.ocsf_alerts(Principal(0, "cli", "admin", via="cli"), since)
    finally:
        service.close()
    return [record for alert in alerts for record in ocsf_records(alert)]


@app.command("export-alerts")
def export_alerts(
    fmt: Annotated[str, typer.Option("--format", help="json or cef.")] = "json",
    since: Annotated[str | None, typer.Option(help="Alerts active on or after (YYYY-MM-DD).")
                     ] = None,
    webhook: Annotated[str | None, typer.Option(help="POST the JSON to this URL.")] = None,
    syslog: Annotated[str | None, typer.Option(help="Send CEF to HOST:PORT over syslog.")
                      ] = None,
    tcp: Annotated[bool, typer.Option(help="Syslog over TCP instead of UDP.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Export the console's alerts for a SIEM (pseudonymous): print, webhook or syslog CEF."""
    from molehunt.cases.accounts import Principal
    from molehunt.cases.service import Console
    from molehunt.cases.siem import cef_line, post_webhook, send_syslog
    from molehunt.errors import ConfigError

    def action() -> int:
        if fmt not in ("json", "cef"):
            raise ConfigError("--format must be json or cef")
        service = Console(state.workspace, _case_store(database_url))
        service.import_alerts()
        alerts = service.siem_alerts(Principal(0, "cli", "admin", via="cli"), since)
        if webhook:
            status_code = post_webhook(alerts, webhook)
            out.print(f"posted {len(alerts)} alerts to {webhook}: HTTP {status_code}",
                      highlight=False)
        if syslog:
            host, _, port_text = syslog.rpartition(":")
            if not host or not port_text.isdigit():
                raise ConfigError("--syslog must be HOST:PORT")
            sent = send_syslog(alerts, host, int(port_text), "tcp" if tcp else "udp")
            out.print(f"sent {sent} CEF records to {syslog}", highlight=False)
        if not webhook and not syslog:
            for alert in alerts:
                typer.echo(cef_line(alert) if fmt == "cef" else json.dumps(alert, default=str))
        return 0

    _run(action)


def _parse_intensity(values: list[str]) -> dict[str, dict[str, float]]:
    from molehunt.errors import ConfigError

    parsed: dict[str, dict[str, float]] = {}
    for value in values:
        key, _, number = value.partition("=")
        code, _, name = key.partition(".")
        try:
            parsed.setdefault(code.strip().upper(), {})[name.strip()] = float(number)
        except ValueError:
            raise ConfigError(f"--intensity {value!r}: expected CODE.parameter=number") from None
        if not name.strip():
            raise ConfigError(f"--intensity {value!r}: expected CODE.parameter=number")
    return parsed


@app.command("run")
def run_command(
    backend: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    rebuild: Annotated[bool, typer.Option(
        help="Rescore every day instead of only the days not yet scored.")] = False,
    skip_features: Annotated[bool, typer.Option(
        help="Do not update the features first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Update features, run the detectors on the new days (and the days late data changed),
    score risk and open alerts."""
    from molehunt.pipeline import run_detection
    from molehunt.store.published import RESULTS

    def action() -> int:
        with Workspace(state.workspace).locked(state.wait) as workspace, _progress() as progress:
            summary = run_detection(workspace, backend, rebuild=rebuild,
                                    features=not skip_features, progress=progress)
        if as_json:
            out.print_json(json.dumps(summary.to_json()))
            return 0
        if summary.start is None:
            console.print("no new days to score; risk and alerts recomputed")
        else:
            found = ", ".join(f"{k} {v:,}" for k, v in summary.findings.items())
            console.print(f"scored {summary.start} to {summary.end}: findings {found}",
                          highlight=False)
        if summary.rescored:
            console.print(summary.rescored, highlight=False)
        for name, missing in summary.blind.items():
            console.print(f"[yellow]not run:[/yellow] {name}: this deployment cannot see"
                          f" {', '.join(missing)} (see `molehunt status`)", highlight=False)
        console.print(f"{summary.risk_rows:,} risk rows, {summary.alerts:,} alerts in"
                      f" {Workspace(state.workspace).root / RESULTS} ({summary.seconds:.1f} s)",
                      highlight=False)
        return 0

    _run(action)


@app.command("export")
def export_command(
    table: Annotated[str, typer.Argument(help="risk, findings, alerts or graph.")],
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="A .csv or .parquet file (with --format ocsf: a JSON-lines file;"
        " standard output without it).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="ocsf: alerts as OCSF 1.7 Detection and Data Security Findings"
        " (pseudonymous, one JSON object a line). Default: by the --out file's extension.")
                   ] = None,
    since: Annotated[str | None, typer.Option(
        help="With --format ocsf: alerts active on or after (YYYY-MM-DD).")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write molehunt's results to CSV or Parquet (by the file's extension), or alerts as OCSF."""
    from molehunt.errors import ConfigError
    from molehunt.export import export_results

    def action() -> int:
        if fmt is not None and fmt not in ("csv", "parquet", "ocsf"):
            raise ConfigError("--format must be csv, parquet or ocsf")
        if fmt == "ocsf":
            if table != "alerts":
                raise ConfigError("--format ocsf exports alerts only: `export alerts`")
            records = _ocsf_records(since, database_url)
            lines = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n"
                            for r in records)
            if out_file is None:
                typer.echo(lines, nl=False)
            else:
                out_file.parent.mkdir(parents=True, exist_ok=True)
                out_file.write_text(lines, "utf-8")
                console.print(f"wrote {len(records):,} OCSF findings to {out_file}",
                              highlight=False)
            return 0
        if since is not None:
            raise ConfigError("--since goes with --format ocsf (the CSV and Parquet exports"
                              " hold every day)")
        if out_file is None:
            raise ConfigError("--out is required: a .csv or .parquet file")
        if fmt is not None and out_file.suffix.lower() != f".{fmt}":
            raise ConfigError(f"--format {fmt} needs an --out file ending in .{fmt}",
                              where=str(out_file))
        rows = export_results(Workspace(state.workspace), table, out_file)
        console.print(f"wrote {rows:,} {table} rows to {out_file}", highlight=False)
        return 0

    _run(action)


@app.command("evaluate")
def evaluate_command(
    truth: Annotated[Path, typer.Option(
        "--truth", help="Folder with insiders.csv (CERT answers layout), or its parent.")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")
                         ] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write the report here.")
                         ] = None,
    backend: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
) -> None:
    """Measure recall at daily budgets, time to detect, CR-k, ROC/PR AUC and alert load."""
    from molehunt.evaluate.run import evaluate

    def action() -> int:
        with _progress() as progress:
            figures, plots = evaluate(Workspace(state.workspace), truth, backend, progress)
            text = json.dumps(figures, indent=1, default=str)
            if json_file is not None:
                json_file.parent.mkdir(parents=True, exist_ok=True)
                json_file.write_text(text, "utf-8")
            if html_file is not None:
                from molehunt.evaluate.report import render_html

                progress("report", None)
                html_file.parent.mkdir(parents=True, exist_ok=True)
                html_file.write_text(render_html(figures, plots), "utf-8")
        out.print_json(json.dumps(figures["done_when_c1_c5"], default=str))
        if html_file is not None:
            console.print(f"report: {html_file}", highlight=False)
        return 0

    _run(action)


def _print_status(report: dict[str, Any]) -> None:
    out.print(f"[bold]workspace[/bold] {report['workspace']}")
    out.print(
        f"events {report['events_total']:,} from {report['first_day']} to {report['last_day']};"
        f" users with events {report['users']:,}; people in directory"
        f" {report['directory_users']:,}, of whom {report['departures']:,} left;"
        f" documents {report['documents']:,}",
        highlight=False,
    )
    months = sorted({m for per in report["events_by_source_month"].values() for m in per})
    table = Table(title="events per source and month", title_justify="left")
    table.add_column("source")
    for month in months:
        table.add_column(month, justify="right")
    table.add_column("total", justify="right")
    for source, total in report["events_by_source"].items():
        per = report["events_by_source_month"].get(source, {})
        table.add_row(source, *[f"{per.get(m, 0):,}" for m in months], f"{total:,}")
    out.print(table)
    seen = report["coverage"]
    coverage_table = Table(title="what this deployment can see", title_justify="left")
    for heading in ("observation", "from", "to", "what"):
        coverage_table.add_column(heading)
    for name, span in seen["observed"].items():
        coverage_table.add_row(name, span["first_day"] or "", span["last_day"] or "",
                               span["what"])
    out.print(coverage_table)
    if seen["not_observed"]:
        out.print("[bold]no source provides[/bold]: " + "; ".join(
            f"{name} ({what})" for name, what in seen["not_observed"].items()), highlight=False)
    if report["quarantined_total"]:
        quarantine = Table(title=f"quarantine: {report['quarantined_total']:,} rows",
                           title_justify="left")
        quarantine.add_column("file")
        quarantine.add_column("reason")
        quarantine.add_column("rows", justify="right")
        for file, reasons in report["quarantined_by_file"].items():
            for reason, n in reasons.items():
                quarantine.add_row(file, reason, f"{n:,}")
        out.print(quarantine)
    else:
        out.print("quarantine: empty")


def main() -> None:
    """Entry point of the ``molehunt`` console script."""
    try:
        app()
    except typer.Exit:
        raise
    except SystemExit:
        raise
    except Exception as error:  # an unexpected bug: still one line unless --debug
        if state.debug or "--debug" in sys.argv:
            raise
        classified = describe_os_error(error)
        if classified is not None:  # a full disk, a read-only file system, a permission
            console.print(f"[red]error:[/red] {escape(classified)}", highlight=False,
                          soft_wrap=True)
            sys.exit(EXIT_ERROR)
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else ""
        console.print(f"[red]internal error:[/red] {type(error).__name__}: {first_line}"
                      " (rerun with --debug for details)", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
