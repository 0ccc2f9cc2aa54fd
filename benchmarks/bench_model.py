"""PanoRank speed: forward time, parameter count, and speed-up over the labeling pipeline.

    python benchmarks/bench_model.py [--model PATH] [--repeats 3] [--threads N]

Measures, on this machine's CPU with PyTorch:
* the parameter count of the model (the shipped default unless --model is given);
* the eval forward time (backbone, decoder and the unrolled sequential ranking loop) at
  512×1024 and 1024×2048 input, best and median of ``--repeats`` runs after a warm-up;
* the end-to-end time to rank one synthetic 512×1024 panorama with PanoRank
  (``prepare_input`` → forward → ``outputs_to_instances``) against the weak-supervision
  pipeline that produced its training labels (``PseudoLabeler`` with the ``foir360 label``
  defaults) on the same panorama and its exact masks. PanoRank also segments; the
  labeler is given the masks for free, so the speed-up is, if anything, understated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from foir360_core.labeling.inpaint import build_inpainter
from foir360_core.labeling.pipeline import LabelConfig, PseudoLabeler
from foir360_core.labeling.saliency import build_saliency
from foir360_core.models import default_model_path
from foir360_core.models.checkpoint import load_checkpoint
from foir360_core.models.postprocess import outputs_to_instances
from foir360_core.models.preprocess import prepare_input
from foir360_core.synth import render_panorama


def timed(fn, repeats: int) -> tuple[float, float]:
    """(best, median) seconds of ``repeats`` calls after one warm-up call.

    The best run is the figure to compare: on a shared machine the median also carries
    other processes' load. Both are printed.
    """
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


def fmt(best_median: tuple[float, float]) -> str:
    return f"best {best_median[0] * 1000:.0f} ms, median {best_median[1] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: the shipped default)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=3, help="synthetic panorama seed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.model or default_model_path()
    model, meta = load_checkpoint(path)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {path} ({meta['name']}, trained input {meta['input_size']})")
    print(f"parameters: {params / 1e6:.2f} M; torch threads: {torch.get_num_threads()}")
    for h in (512, 1024):
        x = torch.randn(1, 3, h, 2 * h)

        def forward(x=x):
            with torch.no_grad():
                model(x, rank=True)

        print(f"forward {h}x{2 * h}: {fmt(timed(forward, args.repeats))}")

    pano = render_panorama(args.seed, height=512)
    image, masks = pano.image, pano.instances

    def panorank(input_hw: tuple[int, int]):
        x = torch.from_numpy(prepare_input(image, input_hw))
        with torch.no_grad():
            out = model(x, rank=True)
        return outputs_to_instances(
            {name: out[name][0].numpy() for name in model.output_names},
            rank_head=model.rank_type,
            out_size=image.shape[:2],
        )

    labeler = PseudoLabeler(
        [build_saliency("spectral"), build_saliency("fine_grained")],
        build_inpainter("patchmatch"),
        LabelConfig(),
    )
    label_s = timed(lambda: labeler.label(image, masks), max(1, args.repeats // 2))[0]
    print(f"same panorama 512x1024, {len(masks)} objects:")
    print(f"  labeling pipeline (foir360 label defaults): best {label_s:.2f} s")
    for input_hw in (model.input_size, (512, 1024)):
        net = timed(lambda hw=input_hw: panorank(hw), args.repeats)
        print(
            f"  PanoRank at {input_hw[0]}x{input_hw[1]} input (preprocess + forward + "
            f"postprocess, masks at 512x1024): {fmt(net)}, speed-up {label_s / net[0]:.0f}x"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
