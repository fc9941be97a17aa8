#!/usr/bin/python3
"""The reference for the legacy_* networks (test/graph/resnet.test.ts): the SENet authors' Caffe
layout as timm's legacy SENet (timm/models/senet.py) and Cadene's pretrainedmodels port it,
written out in plain torch.nn with their module names, so that its state_dict keys are theirs
(`layer0.conv1.weight`, `layer1.0.se_module.fc1.bias`, `last_linear.weight`).

It writes, for a few small networks of each kind, the state_dict's names and shapes and the
eval-mode logits for a fixed batch, with every weight and input from a formula of the tensor's
name and the element's index that the test computes too (`formula` below): the fixture stays a
few KB and CI needs no PyTorch. Needs Debian's python3-torch (`apt-get install python3-torch`),
which is no dependency of this package.

    /usr/bin/python3 bench/legacy_senet.py test/graph/legacy-senet.reference.json

The architecture, as timm's senet.py builds legacy_seresnet18..152:
- layer0: 7x7/2 conv (no bias), BN, ReLU; then a 3x3/2 max pool with ceil_mode=True and no padding
  (timm's pool0; Cadene's layer0.pool: no parameters either way);
- SEResNetBottleneck: 1x1 conv with the block's stride, BN, ReLU, 3x3 conv (stride 1), BN, ReLU,
  1x1 conv to 4x, BN; SEResNetBlock (18/34): 3x3 conv with the stride, BN, ReLU, 3x3 conv, BN,
  ReLU (the ReLU before the SE module is timm's, torchvision has none);
- then se_module(out) + shortcut, ReLU; se_module is mean over H, W, 1x1 conv fc1 (C -> C // 16,
  bias), ReLU, 1x1 conv fc2 (bias), sigmoid, times the input;
- downsample (1x1 conv with the stride, BN) where the stride or the width changes;
- global average pool, (dropout, off in eval mode), last_linear.
The plain twins (legacy_resnet*) are the same without se_module.
"""
import json
import math
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

REDUCTION = 16
WIDTHS = [64, 128, 256, 512]

# Small networks of each kind: the registry's widths and layout, 1-2-1-1 blocks (a first block
# with a projection in every stage, and one block with an identity shortcut after a stride).
CASES = [
    {"arch": "legacy_se_resnet50", "block": "bottleneck", "se": True},
    {"arch": "legacy_se_resnet18", "block": "basic", "se": True},
    {"arch": "legacy_resnet50", "block": "bottleneck", "se": False},
]
BLOCKS = [1, 2, 1, 1]
CLASSES = 5
# 32 rows: the stem's conv gives 16, an even size, where ceil_mode's last window hangs over the
# edge; 37 columns: 19, odd, then odd maps under the strided 1x1 convs.
INPUT = [2, 3, 32, 37]


def name_hash(name):
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) % 1000003
    return h


def formula(name, shape):
    """The value of every element of tensor `name`, in float64 arithmetic that JavaScript repeats
    bit for bit (integers below 2**53, then one division, products and a correctly rounded sqrt),
    rounded to float32 once at the end."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.int64)
    u = ((7 * i * i + 40499 * i + name_hash(name)) % 65521) / 65521
    if name.endswith("running_var") or (name.endswith(".weight") and len(shape) == 1):
        v = 0.5 + u
    elif len(shape) == 1:
        v = (u - 0.5) * 0.2
    elif name == "images":
        v = (u - 0.5) * 4
    else:
        fan_in = int(np.prod(shape[1:]))
        v = (u - 0.5) * (2 * math.sqrt(6 / fan_in) if len(shape) == 4 else 2 * math.sqrt(3 / fan_in))
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


class SEModule(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // REDUCTION, kernel_size=1)
        self.fc2 = nn.Conv2d(channels // REDUCTION, channels, kernel_size=1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride, se, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        if se:
            self.se_module = SEModule(width * 4)
        self.downsample = downsample

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if hasattr(self, "se_module"):
            out = self.se_module(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + shortcut)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride, se, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        if se:
            self.se_module = SEModule(width)
        self.downsample = downsample

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        if hasattr(self, "se_module"):
            out = self.se_module(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + shortcut)


class LegacySENet(nn.Module):
    def __init__(self, block, blocks, se, classes):
        super().__init__()
        self.layer0 = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
            ("bn1", nn.BatchNorm2d(64)),
            ("relu1", nn.ReLU()),
        ]))
        self.pool0 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        cin = 64
        for s, (width, count) in enumerate(zip(WIDTHS, blocks)):
            layer = []
            for j in range(count):
                stride = 2 if s > 0 and j == 0 else 1
                out = width * block.expansion
                downsample = None
                if stride != 1 or cin != out:
                    downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
                layer.append(block(cin, width, stride, se, downsample))
                cin = out
            setattr(self, f"layer{s + 1}", nn.Sequential(*layer))
        self.last_linear = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.pool0(self.layer0(x))
        for s in range(len(WIDTHS)):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.last_linear(x.mean((2, 3)))


def main():
    out_path = sys.argv[1]
    torch.set_num_threads(2)
    cases = []
    for case in CASES:
        block = Bottleneck if case["block"] == "bottleneck" else BasicBlock
        model = LegacySENet(block, BLOCKS, case["se"], CLASSES).eval()
        state = model.state_dict()
        # num_batches_tracked counters are left out: every layout ignores them.
        names = [n for n in state if not n.endswith("num_batches_tracked")]
        model.load_state_dict({n: formula(n, list(state[n].shape)) for n in names}, strict=False)
        with torch.no_grad():
            logits = model(formula("images", INPUT))
        cases.append({
            "arch": case["arch"],
            "blocks": BLOCKS,
            "classes": CLASSES,
            "input": INPUT,
            "stateDict": [[n, list(state[n].shape)] for n in names],
            "logits": [float(v) for v in logits.flatten()],
        })
        print(f"{case['arch']}: {len(names)} tensors, logits {[round(v, 4) for v in logits.flatten().tolist()]}")
    reference = {
        "generator": "bench/legacy_senet.py",
        "torch": torch.__version__,
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
