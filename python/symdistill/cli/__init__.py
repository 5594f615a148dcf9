"""The ``symdistill`` command line.

Each subcommand lives in its own module under ``symdistill.cli`` and is imported only
when it runs, so ``symdistill --help`` stays fast. A module registers one click command
named ``command``.
"""

from __future__ import annotations

import importlib
import logging

import click

# Subcommand name -> (module, one-line help shown by ``symdistill --help``).
SUBCOMMANDS = {
    "simulate": ("symdistill.cli.simulate", "Simulate an N-body system and save the dataset."),
    "train": ("symdistill.cli.train", "Train a graph network on a simulated dataset."),
    "analyse": ("symdistill.cli.analyse", "Record messages of a trained network and fit them to forces."),
    "regress": ("symdistill.cli.regress", "Run symbolic regression on a table of data."),
    "discover": ("symdistill.cli.discover", "Run the whole discovery pipeline: simulate, train, distill, refit."),
    "table": ("symdistill.cli.table", "Run a grid of systems and models and write paper-style tables."),
    "halos": ("symdistill.cli.halos", "Dark-matter halo catalogues: simulate, read, build graphs."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module_name, short_help = SUBCOMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            return _unavailable(name, short_help)
        command = module.command
        command.short_help = command.short_help or short_help
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static help lines so listing commands imports nothing heavy.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, short_help: str) -> click.Command:
    @click.command(name=name, help=short_help)
    def unavailable() -> None:
        raise click.ClickException(f"the '{name}' command is not available in this installation")

    return unavailable


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symdistill")
@click.option("-v", "--verbose", count=True, help="Log more detail (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """symdistill: turn trained graph networks into readable physics."""
    if quiet:
        level = logging.WARNING
    elif verbose >= 2:
        level = logging.DEBUG
    else:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
