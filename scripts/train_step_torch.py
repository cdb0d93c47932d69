#!/usr/bin/python3
"""The PyTorch side of `faststyle bench train`: one training step of the pytorch/examples recipe
(transformer, frozen VGG16 to relu4_3, content + style loss, Adam) at batch 4, 256x256.

Run with Debian's python3-torch: `/usr/bin/python3 scripts/train_step_torch.py [--runs N]`
(`scripts/bench.sh train` runs it beside `faststyle bench train`). Weights are random: only the
time matters here. Prints what `faststyle bench train` prints: a header, the step's median
milliseconds and GFLOP/s, and the process's peak memory.
"""

import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)

# Multiply-adds of one step counted twice (as `faststyle bench train` counts them): the
# transformer forward and both its gradients, VGG16 forward on outputs and photos and its input
# gradient, for 4 images of 256x256.
STEP_GFLOP = 680.0


class Conv(nn.Module):
    def __init__(self, c_in, c_out, k, stride=1, upsample=False):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(c_in, c_out, k, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv2d(self.pad(x))


def norm(c):
    return nn.InstanceNorm2d(c, affine=True)


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(Conv(c, c, 3), norm(c), nn.ReLU(), Conv(c, c, 3), norm(c))

    def forward(self, x):
        return x + self.body(x)


def transformer():
    return nn.Sequential(
        Conv(3, 32, 9), norm(32), nn.ReLU(),
        Conv(32, 64, 3, 2), norm(64), nn.ReLU(),
        Conv(64, 128, 3, 2), norm(128), nn.ReLU(),
        *[Residual(128) for _ in range(5)],
        Conv(128, 64, 3, upsample=True), norm(64), nn.ReLU(),
        Conv(64, 32, 3, upsample=True), norm(32), nn.ReLU(),
        Conv(32, 3, 9),
    )


def vgg_to_relu4_3():
    layers, c_in, taps = [], 3, []
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU()]
            c_in = v
    features = nn.Sequential(*layers)
    for p in features.parameters():
        p.requires_grad_(False)
    return features


def taps(features, x):
    out = []
    for i, layer in enumerate(features):
        x = layer(x)
        if i in (3, 8, 15, 22):
            out.append(x)
    return out


def gram(f):
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed steps after one warm-up step")
    runs = parser.parse_args().runs
    torch.manual_seed(0)
    net, vgg = transformer(), vgg_to_relu4_3()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    with torch.no_grad():
        style_grams = [gram(t) for t in taps(vgg, torch.rand(1, 3, 256, 256))]

    def step():
        x = torch.rand(4, 3, 256, 256) * 255
        opt.zero_grad()
        y = net(x)
        yt = taps(vgg, y / 255)
        with torch.no_grad():
            xt = taps(vgg, x / 255)
        loss = 1e5 * F.mse_loss(yt[1], xt[1])
        loss = loss + 1e10 * sum(F.mse_loss(gram(a), g.expand_as(gram(a))) for a, g in zip(yt, style_grams))
        loss.backward()
        opt.step()

    step()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(seconds)
    rate = STEP_GFLOP / median
    print(f"{'name':<34} {'median ms':>10} {'GFLOP/s':>9} {'of peak':>8}")
    print(f"{'train_step_4x3x256x256':<34} {median * 1e3:>10.2f} {rate:>9.1f} {100 * rate / 500:>7.0f}%")
    print(f"peak memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
