"""The matplotlib setup and save steps shared by every report figure (headless, Agg)."""

from __future__ import annotations

from pathlib import Path


def new_axes(size: tuple[float, float] = (5.2, 3.8)):
    """A (figure, axes) pair on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def finish(fig, ax, title: str, path: Path) -> Path:
    """Title, legend, tight layout, save as PNG, close; returns the path."""
    import matplotlib.pyplot as plt

    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
