#!/usr/bin/python3
"""Grad-CAM by PyTorch autograd: the reference that bench/gradcam.ts compares our graphs' `cam`
output with. For each network it loads the state_dict and the images that gradcam.ts wrote into
bench/pytorch_train.py's plain torch.nn networks (our state_dict names, both stems), in eval mode
and float64, takes each layer's output with a forward hook, and writes, per layer,

    cam = relu(sum_k alpha_k A_k),  alpha_k = mean over h, w of d(logit of the predicted class) / dA_k

(Selvaraju et al., ICCV 2017) and the logits. Needs Debian's python3-torch, so run it with the
system interpreter; gradcam.ts runs it:

    /usr/bin/python3 bench/gradcam.py DIR net [net ...]

reads DIR/<net>.safetensors (weights) and DIR/<net>.input.safetensors (images; the layers in its
metadata), writes DIR/<net>.torch.safetensors.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train import SPECS, ResNet  # noqa: E402
from safetensors_io import load_safetensors, save_safetensors  # noqa: E402


def module_of(model, layer):
    """The module whose output is the layer: the stem ends in maxpool (nn.Identity in the CIFAR stem)."""
    if layer == 'stem':
        return model.maxpool
    stage, _, block = layer.partition('.')
    module = getattr(model, stage)
    return module[int(block)] if block else module


def gradcam(model, images, layer):
    seen = {}
    hook = module_of(model, layer).register_forward_hook(lambda _m, _i, out: seen.__setitem__('a', out))
    try:
        logits = model(images)
    finally:
        hook.remove()
    a = seen['a']
    chosen = logits.argmax(1)
    score = logits.gather(1, chosen[:, None]).sum()
    (grad,) = torch.autograd.grad(score, a)
    alpha = grad.mean((2, 3), keepdim=True)
    return torch.relu((alpha * a).sum(1)), logits


def main():
    out, nets = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(2)
    for net in nets:
        state, _ = load_safetensors(os.path.join(out, f'{net}.safetensors'))
        inputs, meta = load_safetensors(os.path.join(out, f'{net}.input.safetensors'))
        model = ResNet(*SPECS[net], classes=state['fc.weight'].shape[0])
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith('num_batches_tracked')]
        if missing or unexpected:
            sys.exit(f'{net}: state_dict does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}')
        model = model.double().eval()
        images = inputs['images'].double()
        results = {}
        for layer in json.loads(meta['layers']):
            cam, logits = gradcam(model, images, layer)
            # float32 on disk: the float64 reference rounded once, far below the differences measured.
            results[f'cam.{layer}'] = cam.float()
        results['logits'] = logits.float()
        save_safetensors(os.path.join(out, f'{net}.torch.safetensors'), results)
        print(f'{net}: {", ".join(json.loads(meta["layers"]))}', flush=True)


if __name__ == '__main__':
    main()
