"""The matplotlib setup and save steps shared by every report figure (headless, Agg)."""

from __future__ import annotations

from pathlib import Path


def new_axes(size: tuple[float, float] = (5.2, 3.8)):
    """A (figure, axes) pair on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def new_panels(ncols: int, size: tuple[float, float]):
    """A (figure, axes array) with `ncols` panels side by side sharing the y axis, on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=size, sharey=True)


def save_figure(fig, path: Path) -> Path:
    """Tight layout, save as PNG (creating the folder), close; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def finish(fig, ax, title: str, path: Path) -> Path:
    """Title, legend, tight layout, save as PNG, close; returns the path."""
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return save_figure(fig, path)
