"""Fixed train/validation split of the real 360° photos (``../shared/real360``), by place.

Several photos of one source repository often show the same building or tour, so a random
per-photo split would validate on near-copies of training scenes. The split holds out whole
source repositories: repositories are ordered by a hash of their name (stable, independent of
file order) and taken into validation until it holds ``--val-share`` of the indoor and of the
outdoor photos. The largest repository (a single school's tour, a quarter of all photos) always
trains.

Writes ``OUT/train/`` and ``OUT/val/`` (symlinks to the photos, never copies) and
``OUT/split.tsv`` (file, split, repository, scene). Usage::

    python training/real360_split.py ../shared/real360 --out data/real360
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import defaultdict
from pathlib import Path


def read_manifest(root: Path) -> list[dict[str, str]]:
    """The manifest's rows whose image file exists."""
    with (root / "MANIFEST.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if (root / "images" / r["file"]).is_file()]


def choose_validation(rows: list[dict[str, str]], share: float) -> set[str]:
    """Repositories held out for validation (see the module docstring)."""
    by_repo: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_repo[row["source_repo"]].append(row)
    largest = max(by_repo, key=lambda repo: len(by_repo[repo]))
    kinds = {kind: sum(r["scene"].startswith(kind) for r in rows) for kind in ("indoor", "outdoor")}
    taken = dict.fromkeys(kinds, 0)
    val: set[str] = set()
    for repo in sorted(by_repo, key=lambda r: hashlib.sha1(r.encode()).hexdigest()):
        if repo == largest:
            continue
        counts = {k: sum(r["scene"].startswith(k) for r in by_repo[repo]) for k in kinds}
        if all(taken[k] + counts[k] <= share * kinds[k] + 1 for k in kinds):
            val.add(repo)
            for k in kinds:
                taken[k] += counts[k]
    return val


def write_split(root: Path, out: Path, rows: list[dict[str, str]], val: set[str]) -> None:
    """Symlink folders and the split table."""
    for name in ("train", "val"):
        (out / name).mkdir(parents=True, exist_ok=True)
    with (out / "split.tsv").open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(["file", "split", "source_repo", "scene"])
        for row in rows:
            split = "val" if row["source_repo"] in val else "train"
            link = out / split / row["file"]
            if not link.is_symlink():
                link.symlink_to((root / "images" / row["file"]).resolve())
            writer.writerow([row["file"], split, row["source_repo"], row["scene"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the real360 folder (MANIFEST.tsv, images/)")
    parser.add_argument("--out", type=Path, required=True, help="where train/ and val/ go")
    parser.add_argument("--val-share", type=float, default=0.2,
                        help="share of indoor and of outdoor photos to validate on")
    args = parser.parse_args()
    rows = read_manifest(args.root)
    val = choose_validation(rows, args.val_share)
    write_split(args.root, args.out, rows, val)
    n_val = sum(r["source_repo"] in val for r in rows)
    print(f"{len(rows) - n_val} training / {n_val} validation photos; "
          f"validation repositories: {', '.join(sorted(val))}")


if __name__ == "__main__":
    main()
