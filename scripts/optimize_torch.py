#!/usr/bin/python3
"""The optimisation of `faststyle optimize`, in PyTorch, for side-by-side timing.

Same problem as the Rust command with its defaults: VGG16 taps relu1_2..relu4_3 on ImageNet-
normalised 0..255 pixels, content weight 1e5 on relu2_2, style weight 1e10 on the four Gram
matrices (F F^T / (C H W)), MSE losses, no TV, start at the photo, torch.optim.LBFGS(lr=1,
history_size=100, max_iter=1) with one step per iteration (or Adam, lr 10).

Run with Debian's python3-torch (1.13) on as many threads as the Rust run gets:
    /usr/bin/python3 scripts/optimize_torch.py --content photo.png --style painting.png \
        --size 512 --iterations 20 --threads 2

The VGG16 weights are the safetensors file faststyle caches (torchvision names
features.N.weight/bias); it is read here without the safetensors package. Prints one line per
iteration (to stderr) and a summary with the median seconds per iteration (to stdout).
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
TAP_AFTER = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3", 22: "relu4_3"}


def default_vgg_path():
    cache = os.environ.get("FASTSTYLE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "faststyle")
    return os.path.join(cache, "vgg16.safetensors")


def read_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{name}: {info['dtype']}"
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def vgg16_features(path):
    tensors = read_safetensors(path)
    layers, c_in, i = [], 3, 0
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            i += 1
            continue
        conv = nn.Conv2d(c_in, v, 3, padding=1)
        conv.weight.data.copy_(tensors[f"features.{i}.weight"])
        conv.bias.data.copy_(tensors[f"features.{i}.bias"])
        layers += [conv, nn.ReLU(inplace=False)]
        c_in, i = v, i + 2
    net = nn.Sequential(*layers).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def taps(features, x):
    y = (x / 255.0 - MEAN) / STD
    out = []
    for i, layer in enumerate(features):
        y = layer(y)
        if i in TAP_AFTER:
            out.append(y)
    return out


def gram(f):
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


def load(path, long_side):
    img = Image.open(path).convert("RGB")
    scale = long_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if size != img.size:
        img = img.resize(size, Image.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1)[None].contiguous()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vgg", default=default_vgg_path())
    p.add_argument("--output")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    features = vgg16_features(args.vgg)
    content = load(args.content, args.size)
    style = load(args.style, args.size)
    with torch.no_grad():
        c_t = taps(features, content)[1]
        s_g = [gram(t) for t in taps(features, style)]
    x = content.clone().requires_grad_(True)
    if args.optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=100)
    else:
        opt = torch.optim.Adam([x], lr=10.0)
    mse = nn.functional.mse_loss

    def closure():
        opt.zero_grad()
        t = taps(features, x)
        loss = 1e5 * mse(t[1], c_t) + 1e10 * sum(mse(gram(a), g) for a, g in zip(t, s_g))
        loss.backward()
        return loss

    times = []
    for it in range(args.iterations):
        start = time.perf_counter()
        loss = opt.step(closure)
        times.append(time.perf_counter() - start)
        print(f"iteration {it + 1}: loss {float(loss):.4e}, {times[-1]:.3f} s", file=sys.stderr)
    if args.output:
        out = x.detach()[0].clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(out).save(args.output)
    h, w = content.shape[2:]
    print(f"torch {torch.__version__}, {args.threads} threads, {w}x{h}, {args.optimizer}: "
          f"median {statistics.median(times):.3f} s/iteration over {len(times)}, "
          f"last loss {float(loss):.4e}")


if __name__ == "__main__":
    main()
