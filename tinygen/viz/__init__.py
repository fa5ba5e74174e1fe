"""Pictures of what tinygen computes: sample grids and curves, and the computation graph.

``pictures.py`` draws images and curves with matplotlib (sample grids, loss curves, latent
walks, the 2-D manifold); ``dot.py`` writes the graph that produced a Tensor as Graphviz
DOT (``graph``). Both are re-exported here, so ``tinygen.viz.save_image_grid`` and
``tinygen.viz.graph`` are the names to use.
"""

from tinygen.viz.dot import graph
from tinygen.viz.pictures import (
    image_grid,
    interpolate,
    interpolation_images,
    manifold_images,
    plot_losses,
    save_image_grid,
)

__all__ = [
    "graph",
    "image_grid",
    "interpolate",
    "interpolation_images",
    "manifold_images",
    "plot_losses",
    "save_image_grid",
]
