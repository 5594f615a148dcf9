"""``symdistill analyse``: record a trained network's messages and fit them to the true forces."""

from __future__ import annotations

import click


@click.command(name="analyse")
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False), help="Run folder written by 'symdistill train'.")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Test dataset (.npz), ideally from a seed other than the training data's.")
@click.option("--n-graphs", type=int, default=1000, show_default=True, help="Graphs drawn with replacement for recording messages.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the graph draw.")
@click.option("--device", help="Torch device such as cpu or cuda [default: cpu].")
@click.option("--no-plot", is_flag=True, help="Skip messages_vs_forces.png.")
def command(run_dir, data_path, n_graphs, seed, device, no_plot):
    """Write metrics.json (test loss, message R^2 per component) and a plot into the run folder."""
    from symdistill import distill

    try:
        metrics = distill.analyse(run_dir, data_path, n_graphs=n_graphs, seed=seed, device=device, plot=not no_plot)
    except (ValueError, FileNotFoundError, TypeError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"model {metrics['model']}: test loss {metrics['test_loss']:.4g}")
    if metrics["message_r2"] is not None:
        per_component = ", ".join(
            f"e{c} {r2:.3f}" for c, r2 in zip(metrics["top_components"], metrics["message_r2_per_component"])
        )
        click.echo(
            f"message R^2 {metrics['message_r2']:.3f} ({per_component}); "
            f"trimmed as in the original code {metrics['message_r2_trimmed']:.3f}"
        )
    else:
        click.echo(f"pair energy R^2 against the true potential {metrics['energy_r2']:.3f}")
