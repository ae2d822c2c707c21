"""The ``zeroevo`` command."""
import click


@click.group()
def main() -> None:
    """Evolve learning algorithms and network architectures."""
