"""The examples' written-out loops train exactly as the trainers do (`tinygen train`).

examples/train_vae.py and examples/train_cgan.py write their training loop out for readers;
on the same settings, their model after one epoch must equal, bit for bit, the model the
trainer's fit() makes. If the trainer's recipe changes (a new term, an extra update), this
fails until the example's loop follows it.
"""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygen.train import TrainConfig, load_checkpoint, make_trainer

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.needs_mnist
@pytest.mark.parametrize("kind", ["vae", "cgan"])
def test_the_example_loop_matches_the_trainer(kind, tmp_path, monkeypatch, capsys):
    example = tmp_path / "example"
    monkeypatch.setenv("TINYGEN_SMOKE", "1")  # 512 images, one epoch
    monkeypatch.setattr(sys, "argv", [f"train_{kind}.py", "--out", str(example)])
    runpy.run_path(str(ROOT / "examples" / f"train_{kind}.py"), run_name="__main__")
    assert "samples" in capsys.readouterr().out
    written = load_checkpoint(example / "checkpoint.npz")

    config = TrainConfig(model=kind, epochs=1, limit=512, seed=0, out=str(tmp_path / "trainer"))
    trainer = make_trainer(config, progress=False, pictures=False)
    trainer.fit()
    assert written["step"] == trainer.step and written["epoch"] == 1
    ours = trainer.model.state_dict()
    assert sorted(written["model"]) == sorted(ours)
    for name, array in ours.items():
        assert np.array_equal(written["model"][name], array), f"{kind}: {name} differs"
