"""The Python way to map a slide, for bench/slide.ts to time senet-ort's `predict --out` against:
OpenSlide reads the slide a row of tiles at a time, NumPy cuts the tiles and applies the white rule
(as the model was trained), and PyTorch eager runs the same network on the same weights, in
batches, after an antialiased resize to the network's input and the fold's normalisation.

Needs Debian's python3-openslide and python3-torch (run with /usr/bin/python3):
  /usr/bin/python3 bench/slide_predict_pytorch.py --slide S.svs --checkpoint fold-1/checkpoints/epoch-1.safetensors \
      --normalization fold-1/normalization.json --arch se_resnet20 [--tile 150] [--batch 32] [--threads 2]
Prints one JSON line: tiles kept and predicted, grid positions, seconds, tiles per second, peak RSS.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import openslide
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train import build  # noqa: E402  (the same networks, with our state_dict names)
from safetensors_io import load_safetensors  # noqa: E402


def read_safetensors(path):
    """A checkpoint's float32 tensors by name."""
    tensors, _ = load_safetensors(path)
    return {name: t for name, t in tensors.items() if t.dtype == torch.float32}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--slide', required=True)
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--normalization', required=True)
    p.add_argument('--arch', required=True)
    p.add_argument('--tile', type=int, default=150)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--white-threshold', type=int, default=220)
    p.add_argument('--max-white', type=float, default=0.5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    norm = json.load(open(args.normalization))
    _, height, width = norm['input']
    mean = torch.tensor(norm['mean']).view(1, 3, 1, 1)
    std = torch.tensor(norm['std']).view(1, 3, 1, 1)
    model = build(args.arch)
    state = model.state_dict()
    weights = read_safetensors(args.checkpoint)
    # num_batches_tracked counts steps for BatchNorm's momentum=None mode; inference never reads it.
    missing = [k for k in state if k not in weights and not k.endswith('num_batches_tracked')]
    if missing:
        sys.exit(f'{args.checkpoint}: no tensor for {missing[:3]}')
    model.load_state_dict({k: weights.get(k, state[k]) for k in state})
    model.eval()

    started = time.perf_counter()
    slide = openslide.OpenSlide(args.slide)
    w, h = slide.dimensions
    t = args.tile
    xs = range(0, w - t + 1, t)
    ys = range(0, h - t + 1, t)
    batch, kept = [], 0

    def run(tiles):
        x = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float() / 255
        if (height, width) != (t, t):
            x = F.interpolate(x, size=(height, width), mode='bilinear', antialias=True, align_corners=False)
        with torch.no_grad():
            return torch.softmax(model((x - mean) / std), 1)

    for y in ys:
        row = np.asarray(slide.read_region((0, y), 0, (w, t)))[..., :3]
        for x in xs:
            tile = row[:, x:x + t]
            if (tile > args.white_threshold).all(-1).mean() > args.max_white:
                continue
            batch.append(tile)
            kept += 1
            if len(batch) == args.batch:
                run(batch)
                batch = []
    if batch:
        run(batch)
    seconds = time.perf_counter() - started
    print(json.dumps({
        'tiles': kept, 'positions': len(xs) * len(ys), 'seconds': round(seconds, 3), 'tiles_per_s': round(kept / seconds, 2),
        'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        'torch': torch.__version__, 'openslide': openslide.__library_version__,
    }))


if __name__ == '__main__':
    main()
