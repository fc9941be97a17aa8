#!/usr/bin/python3
"""Cross-check of `--init` / `gen-graph --weights` against the real library: torchvision writes a
ResNet state_dict (random weights and random BatchNorm running statistics, eval mode, no download)
as safetensors, plus a batch of inputs and its logits; bench/torchvision-import.ts loads the
state_dict into our graph and compares the logits. Needs Debian's python3-torch and
python3-torchvision (`apt-get install python3-torch python3-torchvision`), which are not
dependencies of this package, so CI never runs it.

    /usr/bin/python3 bench/torchvision_import.py OUT_DIR [resnet18 resnet50 ...]
"""
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import save_safetensors  # noqa: E402  (written by hand: the safetensors package is not in Debian 12)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    nets = sys.argv[2:] or ["resnet18", "resnet50"]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    for name in nets:
        model = getattr(torchvision.models, name)(num_classes=1000)
        with torch.no_grad():
            # Running statistics away from 0 and 1, so that taking them over is checked too.
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.1, 0.1)
                    m.num_batches_tracked.fill_(100)
        model.eval()
        images = torch.randn(2, 3, 112, 112)
        with torch.no_grad():
            logits = model(images)
        save_safetensors(out / f"{name}.safetensors", model.state_dict())
        save_safetensors(out / f"{name}.check.safetensors", {"images": images, "logits": logits})
        print(f"{name}: {len(model.state_dict())} tensors, logits {tuple(logits.shape)}, torch {torch.__version__}, torchvision {torchvision.__version__}")


if __name__ == "__main__":
    main()
