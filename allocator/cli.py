"""The ``allocator`` command: a thin shell over the public Python API.

Exit codes: 0 solved (optimal, or feasible within the limits), 1 infeasible (with a diagnosis),
2 bad input or usage (one clear message, no traceback; ``--debug`` shows one), 3 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from allocator.exceptions import AllocatorError, CheckError, InfeasibleError, SolverError

__all__ = ["build_parser", "main"]

log = logging.getLogger("allocator")


def demo_scenario_path() -> Path:
    """The demo scenario shipped inside the package (runs from any directory)."""
    return Path(str(resources.files("allocator") / "demo" / "demo.yaml"))


def _solver_overrides(args: argparse.Namespace) -> dict[str, object]:
    changes: dict[str, object] = {}
    if getattr(args, "solver", None):
        changes["solver.name"] = args.solver
    if getattr(args, "time_limit", None) is not None:
        changes["solver.time_limit"] = args.time_limit
    if getattr(args, "gap", None) is not None:
        changes["solver.gap"] = args.gap
    if getattr(args, "threads", None) is not None:
        changes["solver.threads"] = args.threads
    return changes


def _solve_and_write(scenario_path: Path, out: Path | None, args: argparse.Namespace) -> int:
    from allocator.output import write_plan
    from allocator.plan import solve_scenario
    from allocator.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    changes = _solver_overrides(args)
    if changes:
        scenario = scenario.replace(changes, source=str(scenario_path))
    if out is None:
        out = Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name
    log.info("solving scenario '%s' (%s)", scenario.name, scenario_path)
    try:
        plan = solve_scenario(scenario)
    except InfeasibleError as exc:
        from allocator.report import infeasible_report

        out.mkdir(parents=True, exist_ok=True)
        infeasible_report(scenario, exc, out)
        log.info("the diagnosis is in %s", (out / "report.html").resolve())
        raise
    write_plan(plan, out, force=args.force)
    print(plan.summary())
    print(f"outputs written to {out.resolve()} (open report.html)")
    return 0


def _solved_folder(source: Path, args: argparse.Namespace) -> Path:
    """An output folder for ``source``: itself, or the scenario's folder, solved if needed."""
    from allocator.output import MANIFEST
    from allocator.scenario import load_scenario

    if source.is_dir():
        return source
    scenario = load_scenario(source)
    out = Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name
    manifest = out / MANIFEST
    if (
        manifest.exists()
        and json.loads(manifest.read_text())["scenario"]["hash"] == scenario.hash()
    ):
        log.info("%s: reusing the results in %s", source, out)
        return out
    _solve_and_write(source, out, args)
    return out


def cmd_compare(args: argparse.Namespace) -> int:
    from allocator.comparison import compare, write_comparison

    folders = [_solved_folder(Path(s), args) for s in args.sources]
    comparison = compare(folders)
    out = Path(args.out) if args.out else Path("output") / "comparison"
    out.mkdir(parents=True, exist_ok=True)
    write_comparison(comparison, out)
    print(comparison.summary())
    print(f"comparison written to {out.resolve()} (comparison.html, comparison.md)")
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    return _solve_and_write(Path(args.scenario), Path(args.out) if args.out else None, args)


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path.cwd() / "output" / "demo"
    return _solve_and_write(demo_scenario_path(), out, args)


def cmd_validate(args: argparse.Namespace) -> int:
    from allocator.data import describe, format_description, load_inputs
    from allocator.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    tables = load_inputs(scenario)
    print(f"scenario '{scenario.name}' is valid ({args.scenario})")
    print(format_description(describe(tables)))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from allocator.generate import generate_company, write_company

    tables = generate_company(
        accounts=args.accounts, reps=args.reps, regions=args.regions, seed=args.seed
    )
    path = write_company(tables, Path(args.outdir), scenario_name=args.name)
    print(f"wrote {tables.summary()} and the scenario {path}")
    return 0


def cmd_bench_gap(args: argparse.Namespace) -> int:
    from allocator.gap import bench_gap
    from allocator.settings import SolverSettings

    solver = SolverSettings(name=args.solver or "highs", time_limit=args.time_limit or 60.0)
    table = bench_gap([Path(f) for f in args.files], optima_csv=args.optima, solver=solver)
    print(table.to_string(index=False))
    return 0


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--solver", choices=["highs", "cbc"], help="solver backend (default: scenario's)"
    )
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit in seconds")
    p.add_argument("--gap", type=float, metavar="G", help="relative MIP gap to stop at, e.g. 0.005")
    p.add_argument("--threads", type=int, metavar="N", help="solver threads")
    p.add_argument(
        "--force", action="store_true", help="overwrite an output folder of another scenario"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Plan sales territories and quotas by optimization.",
        epilog="Exit codes: 0 solved, 1 infeasible (with a diagnosis), 2 bad input or usage.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="solve the embedded demo scenario")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./output/demo)")
    _add_solver_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="check a scenario and its tables, print a summary")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("solve", help="solve a scenario and write its outputs")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default: output.dir or output/NAME)"
    )
    _add_solver_options(p)
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("compare", help="compare two or more plans (output folders or scenarios)")
    p.add_argument("sources", nargs="+", metavar="PLAN", help="output folder or scenario YAML")
    p.add_argument("--out", metavar="DIR", help="where to write comparison.html/.md")
    _add_solver_options(p)
    p.set_defaults(func=cmd_compare)

    from allocator.sweep import add_sweep_parser  # its module is light: no solver imports

    add_sweep_parser(sub)

    from allocator.track_cli import add_track_parsers

    add_track_parsers(sub)

    p = sub.add_parser("generate", help="write a generated company dataset and its scenario")
    p.add_argument("outdir", metavar="OUTDIR")
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--regions", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="generated", help="scenario name")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("bench", help="benchmarks on public instances")
    bench = p.add_subparsers(dest="bench", required=True, metavar="KIND")
    g = bench.add_parser("gap", help="OR-Library generalized assignment files")
    g.add_argument("files", nargs="+", metavar="FILE")
    g.add_argument("--optima", metavar="CSV", help="optima.csv with published values")
    g.add_argument("--solver", choices=["highs", "cbc"])
    g.add_argument("--time-limit", type=float, metavar="S")
    g.set_defaults(func=cmd_bench_gap)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, sub)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    ]


def cli_reference() -> str:
    """``docs/cli.md``, generated from the parser's own help so the page cannot drift."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    parser = build_parser()
    parts = [
        "# Command line reference",
        "",
        "Generated from `allocator --help` by `python -m allocator.cli --markdown > docs/cli.md`;"
        " a test fails when this page and the CLI differ.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, sub in _subcommands(parser):
        parts += ["", f"## allocator {name}", "", "```text", sub.format_help().rstrip(), "```"]
        for nested, nsub in _subcommands(sub):
            parts += ["", f"### allocator {name} {nested}", "", "```text"]
            parts += [nsub.format_help().rstrip(), "```"]
    return "\n".join(parts) + "\n"


def _show_warning(message: Warning | str, *_: object, **__: object) -> None:
    """A warning as one line for a planner (``warning: ...``), not a source excerpt."""
    print(f"warning: {message}", file=sys.stderr)


def _exit_code(exc: AllocatorError) -> int:
    if isinstance(exc, CheckError):
        return 3
    if isinstance(exc, InfeasibleError | SolverError):
        return 1
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--markdown"]:
        print(cli_reference(), end="")
        return 0
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    if not args.debug:
        warnings.showwarning = _show_warning
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AllocatorError as exc:
        if args.debug:
            raise
        kind = "infeasible" if isinstance(exc, InfeasibleError) else "error"
        print(f"{kind}: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
