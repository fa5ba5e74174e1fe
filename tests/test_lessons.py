"""docs/lessons/: every lesson runs under TINYGEN_SMOKE=1 and writes its figures.

The lessons run in this process (as the examples' smoke tests do, sharing the loaded
kernels), each in its own temporary folder, so the figures they write can be checked.
"""

import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "docs" / "lessons").glob("[0-9][0-9]_*.py"))


def test_seven_lessons_in_order_each_with_glossary_loop_and_graph():
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(len(LESSONS))]
    assert len(LESSONS) >= 7
    for path in LESSONS:
        text = path.read_text(encoding="utf-8")
        assert "format_name: percent" in text and "# %%" in text, path.name  # jupytext
        assert "| 한국어 | English |" in text.split("# %%\n")[0], path.name  # glossary first
        for call in ("zero_grad()", ".backward()", ".step()"):
            assert call in text, f"{path.name} does not show its loop ({call})"
        assert "viz.graph(" in text, f"{path.name} draws no graph"


@pytest.mark.needs_mnist
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_smoke_mode_and_writes_its_figures(lesson, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGEN_SMOKE", "1")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(lesson), run_name="__main__")
    number = lesson.name[:2]
    figures = tmp_path / "figures"
    pngs = sorted(figures.glob(f"{number}_*.png"))
    dots = sorted(figures.glob(f"{number}_*graph*.dot"))
    assert pngs, f"{lesson.name} wrote no picture"
    assert dots, f"{lesson.name} drew no graph"
    for png in pngs:
        picture = imread(png)
        assert picture.ndim >= 2 and min(picture.shape[:2]) > 16, png.name
        assert np.ptp(picture) > 0, f"{png.name} is blank"
    for dot in dots:
        text = dot.read_text(encoding="utf-8")
        assert text.startswith("digraph") and "->" in text, dot.name
        if shutil.which("dot"):
            assert "<svg" in dot.with_suffix(".svg").read_text(), dot.name
    if number == "06":
        assert (figures / "06_report" / "report.md").exists()
