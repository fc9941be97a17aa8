"""PyTorch eager CPU baseline for bench/train.ts: one SGD training step of the same networks.

The networks are rebuilt here in plain torch.nn (torchvision is not installed) to match
src/graph/resnet.ts and layers.ts layer for layer, with the same state_dict names. Settings,
timing and output follow bench/train.ts, so the table can go into bench/RESULTS.md beside ours.

Needs Debian's PyTorch (`apt-get install python3-torch`, 1.13.1 on Debian 12; PyPI is not
reachable here), so run it with the system interpreter, not the pyenv one:
  /usr/bin/python3 bench/pytorch_train.py [--nets a,b] [--batch 32] [--input 3x150x150]
      [--steps 5] [--warmup 2] [--threads 2] [--channels-last] [--device cpu|cuda]
(--device cuda: PyTorch eager on the GPU, timed between torch.cuda.synchronize() calls; for
bench/gpu-machine.sh.)
"""
import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch
from torch import nn

DEFAULT_NETS = ['resnet20', 'se_resnet20', 'resnet18', 'se_resnet18', 'se_resnet50']
CLASSES = 8
SE_REDUCTION = 16

# Trainable parameter counts of our train_step graphs with 8 classes (buildTrainStep's
# `parameters`, BN running statistics excluded as in nn.Module.parameters()).
EXPECTED_PARAMS = {
    'resnet20': 272_344, 'se_resnet20': 274_717, 'resnet18': 11_180_616,
    'se_resnet18': 11_269_696, 'se_resnet50': 26_055_416,
}

# name -> (block kind, stem kind, stage widths, blocks per stage, SE), as src/graph/registry.ts.
SPECS = {
    'resnet20': ('basic', 'cifar', [16, 32, 64], [3, 3, 3], False),
    'se_resnet20': ('basic', 'cifar', [16, 32, 64], [3, 3, 3], True),
    'resnet18': ('basic', 'imagenet', [64, 128, 256, 512], [2, 2, 2, 2], False),
    'se_resnet18': ('basic', 'imagenet', [64, 128, 256, 512], [2, 2, 2, 2], True),
    'se_resnet50': ('bottleneck', 'imagenet', [64, 128, 256, 512], [3, 4, 6, 3], True),
}
EXPANSION = {'basic': 1, 'bottleneck': 4}


def conv(cin, cout, kernel, stride=1):
    # Our graph's convs carry no bias (BN follows each one); padding keeps 'same' for odd kernels.
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)


class SqueezeExcitation(nn.Module):
    """Hu et al. 2018: GAP -> 1x1 conv C->C/r (bias) -> ReLU -> 1x1 conv (bias) -> sigmoid -> scale."""

    def __init__(self, channels, reduction=SE_REDUCTION):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        s = torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))
        return x * torch.sigmoid(self.fc2(s))


class Block(nn.Module):
    """Basic (3x3, 3x3) or bottleneck (1x1, 3x3 with the stride as torchvision, 1x1 x4) block.

    SE scales the residual branch after its last BN, before the add; ReLU follows the add.
    """

    def __init__(self, kind, cin, width, stride, se):
        super().__init__()
        self.kind = kind
        out = width * EXPANSION[kind]
        if kind == 'basic':
            self.conv1, self.bn1 = conv(cin, width, 3, stride), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = conv(width, width, 3), nn.BatchNorm2d(width)
        else:
            self.conv1, self.bn1 = conv(cin, width, 1), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = conv(width, width, 3, stride), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = conv(width, out, 1), nn.BatchNorm2d(out)
        self.se = SqueezeExcitation(out) if se else None
        # Projection whenever the shape changes, as resnet.ts (CIFAR networks included: option B).
        needs_projection = stride != 1 or cin != out
        self.downsample = nn.Sequential(conv(cin, out, 1, stride), nn.BatchNorm2d(out)) if needs_projection else None

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        if self.kind == 'basic':
            h = self.bn2(self.conv2(h))
        else:
            h = torch.relu(self.bn2(self.conv2(h)))
            h = self.bn3(self.conv3(h))
        if self.se is not None:
            h = self.se(h)
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(h + shortcut)


class ResNet(nn.Module):
    def __init__(self, kind, stem, widths, blocks, se, classes):
        super().__init__()
        stem_width = 16 if stem == 'cifar' else 64
        if stem == 'cifar':
            self.conv1 = conv(3, stem_width, 3)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = conv(3, stem_width, 7, stride=2)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(stem_width)
        cin = stem_width
        for i, (width, n) in enumerate(zip(widths, blocks)):
            stage = []
            for j in range(n):
                # Stride 2 at the first block of every stage but the first (resnet.ts blockStride).
                stride = 2 if i > 0 and j == 0 else 1
                stage.append(Block(kind, cin, width, stride, se))
                cin = width * EXPANSION[kind]
            setattr(self, f'layer{i + 1}', nn.Sequential(*stage))
        self.stages = len(widths)
        self.fc = nn.Linear(cin, classes)
        self._init_weights()

    def _init_weights(self):
        # Kaiming-normal fan_out for every conv, as torchvision and layers.ts; BN starts at 1/0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(self.stages):
            x = getattr(self, f'layer{i + 1}')(x)
        return self.fc(torch.flatten(x.mean((2, 3)), 1))


def build(net):
    if net not in SPECS:
        sys.exit(f'unknown network {net}; known: {", ".join(SPECS)}')
    return ResNet(*SPECS[net], classes=CLASSES)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--nets', default=','.join(DEFAULT_NETS))
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--input', default='3x150x150', help='CxHxW')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--channels-last', action='store_true', help='model and input in torch.channels_last')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--child', help=argparse.SUPPRESS)
    return p.parse_args()


def measure(net, args):
    """One network's training step; runs in its own process so peak RSS is this network's alone."""
    # Inter-op threads must be fixed before any parallel work; 1 as ORT's interOpNumThreads.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c, h, w = (int(d) for d in args.input.split('x'))
    n = args.batch
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    device = torch.device(args.device)
    model = build(net).to(device=device, memory_format=layout)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    # The same fixed batch as bench/train.ts: sin(i) pixels, labels i % 8.
    images = torch.sin(torch.arange(n * c * h * w, dtype=torch.float64)).float().reshape(n, c, h, w)
    images = images.contiguous(memory_format=layout).to(device)
    labels = (torch.arange(n) % CLASSES).to(device)
    sync = torch.cuda.synchronize if args.device == 'cuda' else (lambda: None)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step():
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = time.perf_counter() - t0
    row = {
        'network': net, 'img/s': round(args.steps * n / seconds, 1), 'ms/step': round(seconds / args.steps * 1000),
        'peak RSS MiB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 'params': params,
    }
    if args.device == 'cuda':
        row['peak CUDA MiB'] = round(torch.cuda.max_memory_allocated() / 2**20)
    return row


def in_child(net):
    """Re-runs this script for one network and returns the JSON line it prints."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), *sys.argv[1:], '--child', net], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f'{net}: {r.stderr}')
    return json.loads(r.stdout.strip().splitlines()[-1])


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def table(rows, keys):
    line = lambda cells: '| ' + ' | '.join(str(c) for c in cells) + ' |'
    return '\n'.join([line(keys), line(['---'] * len(keys)), *(line([r[k] for k in keys]) for r in rows)])


def main():
    args = parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    layout = 'channels_last' if args.channels_last else 'NCHW'
    where = f'CUDA ({torch.cuda.get_device_name()})' if args.device == 'cuda' else f'{args.threads} threads'
    print(f'pytorch eager train step, batch {args.batch}, input {args.input}, {where}, {layout}; '
          f'{os.cpu_count()} x {cpu_model()}, Python {platform.python_version()}, torch {torch.__version__}; '
          f'{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")}')
    rows = [in_child(net) for net in args.nets.split(',')]
    # Parameter counts against our graphs' (8 classes), so a mismatch in the layout shows at once.
    for r in rows:
        expected = EXPECTED_PARAMS.get(r['network'])
        verdict = 'no reference' if expected is None else 'matches ours' if expected == r['params'] else f'MISMATCH, ours {expected:,}'
        print(f'params {r["network"]}: {r["params"]:,} ({verdict})')
    print(table(rows, ['network', 'img/s', 'ms/step', 'peak RSS MiB', *(['peak CUDA MiB'] if args.device == 'cuda' else [])]))


if __name__ == '__main__':
    main()
