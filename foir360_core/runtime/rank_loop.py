"""The sequential rank head's picking as one ONNX ``Loop`` instead of an unrolled chain.

Unrolled, the head's ``max_steps`` picks were about 70 % of an exported graph's nodes, and
ONNX Runtime's session start (graph optimisation) grows with node count. Here the per-step
network is traced once (``torch.jit.trace``) and called from a scripted ``while`` loop, which
the TorchScript exporter turns into a ``Loop`` whose body holds one step.

The loop also ends early, once every image's not-yet-picked queries fall below
``rank_threshold`` (a graph input; its default is an initializer, and the runtime feeds its
``score_threshold``). That changes no rank the runtime reports: post-processing only keeps
queries whose object probability reaches ``score_threshold``, all of them are picked by then,
and a pick's score depends only on its step (``SequentialRankHead.forward``). Queries still
unpicked keep the unrolled graph's "never picked" score. The learned stop does not end the
loop: queries picked after it are still ranked (below those picked before it).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from foir360_core.models.heads.sequential import NEG, SequentialRankHead

# Queries this close below the threshold keep the loop going: the graph's float32 object
# probability and post-processing's may differ in the last bit.
THRESHOLD_MARGIN = 1.0e-4


def loops(model: nn.Module) -> bool:
    """Whether ``model``'s rank head picks step by step (and so can export as a loop)."""
    return isinstance(model.rank_head, SequentialRankHead)


def _trace_step(head: SequentialRankHead, example: tuple[torch.Tensor, ...]):
    """One pick's logits (the head's ``step_logits``, picked queries masked), traced.

    A frozen copy of the head is traced as a function, so its weights become constants of
    the loop body. PyTorch's fused attention fast path (taken without gradients) has no ONNX
    export, so it is switched off while tracing.
    """
    frozen = copy.deepcopy(head).eval().requires_grad_(False)

    def step(base, memory, zpos, visited, gaze, z_parts):  # noqa: PLR0917 (traced: positional)
        logits = frozen.step_logits(base, memory, zpos, visited, gaze,
                                    z_parts=list(z_parts.unbind(0)))
        return logits.masked_fill(visited > 0, NEG)

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        return torch.jit.trace(step, example, check_trace=False)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def _script_selection(step):
    """The picking loop around ``step``, scripted; mirrors ``SequentialRankHead.forward``."""

    def selection(  # noqa: PLR0917 (scripted, called with positional tensors)
                  base: torch.Tensor, memory: torch.Tensor, zpos: torch.Tensor,
                  z_parts: torch.Tensor, obj_prob: torch.Tensor, threshold: torch.Tensor,
                  steps: int, stop_threshold: float, margin: float) -> torch.Tensor:
        nq = obj_prob.shape[1]
        visited = torch.zeros_like(obj_prob)
        gaze = torch.zeros_like(obj_prob)
        stopped = torch.zeros_like(obj_prob[:, :1])
        scores = obj_prob - float(steps + 2)
        wanted = (obj_prob >= threshold - margin).to(obj_prob.dtype)
        k = 1
        while k <= steps and bool((wanted * (1.0 - visited)).sum() > 0.0):
            logits = step(base, memory, zpos, visited, gaze, z_parts)
            best = logits.max(dim=1, keepdim=True).values
            pick = torch.nn.functional.one_hot(logits.argmax(dim=1), nq).to(obj_prob.dtype)
            stopped = torch.maximum(stopped,
                                    (torch.sigmoid(best) < stop_threshold).to(obj_prob.dtype))
            value = (1.0 - stopped) * float(steps - k + 1) - stopped * float(k)
            scores = scores * (1.0 - pick) + pick * value
            visited = visited + pick
            gaze = pick
            k += 1
        return scores

    return torch.jit.script(selection)


class LoopExportModule(nn.Module):
    """(images, rank_threshold) → the model's outputs, the head's picks as one loop.

    Traced by ``torch.onnx.export`` like the unrolled wrapper; the scripted selection it
    calls becomes the ``Loop``. The step is traced at ``example``'s size.
    """

    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        super().__init__()
        head = model.rank_head
        if not loops(model):
            raise TypeError(f"only the sequential rank head loops, not {type(head).__name__}")
        self.model = model
        with torch.no_grad():
            base, memory, zpos, z_parts, obj_prob, _ = self._head_inputs(example)
        zeros = torch.zeros_like(obj_prob)
        step = _trace_step(head, (base, memory, zpos, zeros, zeros, z_parts))
        self.selection = _script_selection(step)
        self.steps = min(head.max_steps, int(obj_prob.shape[1]))

    def _head_inputs(self, images: torch.Tensor):
        """The model's outputs and what the loop reads (computed once per image)."""
        from foir360_core.models.panorank import object_probability

        out = self.model(images, rank=False)
        head = self.model.rank_head
        obj_prob = object_probability(out["class_logits"])
        memory = out["memory"]
        zpos = out["memory_pos"].expand(memory.shape[0], -1, -1)
        base = head.embed(out["queries"], obj_prob)
        z_parts = torch.stack(head.image_parts(memory))
        return base, memory, zpos, z_parts, obj_prob, out

    def forward(self, images: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, ...]:
        base, memory, zpos, z_parts, obj_prob, out = self._head_inputs(images)
        out["rank_scores"] = self.selection(
            base, memory, zpos, z_parts, obj_prob, threshold, self.steps,
            self.model.rank_head.stop_threshold, THRESHOLD_MARGIN)
        return tuple(out[name] for name in self.model.output_names)
