#!/usr/bin/python3
"""The PyTorch side of `faststyle bench ops|apply`: the same workloads, shapes and line format.

Run with Debian's python3-torch (PyTorch 1.13): `/usr/bin/python3 scripts/bench_torch.py ops`.
Uses 2 threads, like the reference machine. Each line: name, median ms, GFLOP/s, % of peak.
"""

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

PEAK_GFLOPS = 500.0


def measure(name, gflop, runs, f):
    f()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    if gflop > 0:
        rate = gflop / median
        print(f"{name:<34} {median * 1e3:>10.2f} {rate:>9.1f} {100 * rate / PEAK_GFLOPS:>7.0f}%")
    else:
        print(f"{name:<34} {median * 1e3:>10.2f} {'-':>9} {'-':>8}")
    sys.stdout.flush()


def filled(*dims):
    """The same deterministic values as `filled` in crates/cli/src/bench.rs."""
    n = 1
    for d in dims:
        n *= d
    i = torch.arange(n, dtype=torch.int64)
    return (((i * 7919) % 2003).to(torch.float32) / 1001.5 - 1.0).reshape(dims)


def conv_gflop(b, c_in, c_out, k, ho, wo):
    return 2.0 * b * c_out * c_in * k * k * ho * wo / 1e9


def bench_conv(name, b, c_in, h, w, c_out, k, stride, pad, runs):
    xs = filled(b, c_in, h, w).requires_grad_()
    weight = filled(c_out, c_in, k, k).requires_grad_()
    bias = filled(c_out)
    with torch.no_grad():
        ys = F.conv2d(xs, weight, bias, stride, pad)
    gflop = conv_gflop(b, c_in, c_out, k, ys.shape[2], ys.shape[3])
    with torch.no_grad():
        measure(f"{name}_fwd", gflop, runs, lambda: F.conv2d(xs, weight, bias, stride, pad))
    ys = F.conv2d(xs, weight, bias, stride, pad)
    grad = ys.detach().clone()
    measure(f"{name}_dx", gflop, runs,
            lambda: torch.autograd.grad(ys, [xs], grad, retain_graph=True))
    measure(f"{name}_dw", gflop, runs,
            lambda: torch.autograd.grad(ys, [weight], grad, retain_graph=True))


def gram(features):
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


def bench_ops(runs):
    bench_conv("conv3x3_128to128_4x64x64", 4, 128, 64, 64, 128, 3, 1, 1, runs)
    bench_conv("conv9x9_3to32_4x264x264", 4, 3, 264, 264, 32, 9, 1, 0, runs)
    bench_conv("conv9x9_32to3_4x264x264", 4, 32, 264, 264, 3, 9, 1, 0, runs)
    bench_conv("conv3x3s2_32to64_4x258x258", 4, 32, 258, 258, 64, 3, 2, 0, runs)
    bench_conv("vgg_conv3x3_64to64_4x256x256", 4, 64, 256, 256, 64, 3, 1, 1, runs)
    bench_conv("vgg_conv3x3_256to256_4x64x64", 4, 256, 64, 64, 256, 3, 1, 1, runs)
    with torch.no_grad():
        norm = torch.nn.InstanceNorm2d(128, affine=True)
        xs = filled(4, 128, 64, 64)
        measure("instance_norm_4x128x64x64", 0, runs, lambda: norm(xs))
        xs = filled(4, 64, 256, 256)
        measure("max_pool2x2_4x64x256x256", 0, runs, lambda: F.max_pool2d(xs, 2, 2))
        xs = filled(4, 64, 128, 128)
        measure("upsample2x_4x64x128x128", 0, runs,
                lambda: F.interpolate(xs, scale_factor=2, mode="nearest"))
        xs = filled(4, 32, 256, 256)
        measure("reflection_pad4_4x32x256x256", 0, runs, lambda: F.pad(xs, (4, 4, 4, 4), mode="reflect"))
        xs = filled(4, 256, 64, 64)
        measure("gram_4x256x64x64", 2.0 * 4 * 256 * 256 * 64 * 64 / 1e9, runs, lambda: gram(xs))


class ConvLayer(torch.nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.pad = torch.nn.ReflectionPad2d(k // 2)
        self.conv2d = torch.nn.Conv2d(c_in, c_out, k, stride)

    def forward(self, x):
        return self.conv2d(self.pad(x))


class Residual(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = torch.nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = torch.nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        y = torch.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class Transformer(torch.nn.Module):
    """The pytorch/examples fast_neural_style TransformerNet, written out here so this script
    needs nothing but torch."""

    def __init__(self):
        super().__init__()
        n = torch.nn
        self.layers = n.Sequential(
            ConvLayer(3, 32, 9, 1), n.InstanceNorm2d(32, affine=True), n.ReLU(),
            ConvLayer(32, 64, 3, 2), n.InstanceNorm2d(64, affine=True), n.ReLU(),
            ConvLayer(64, 128, 3, 2), n.InstanceNorm2d(128, affine=True), n.ReLU(),
            *[Residual(128) for _ in range(5)],
            n.Upsample(scale_factor=2, mode="nearest"), ConvLayer(128, 64, 3, 1),
            n.InstanceNorm2d(64, affine=True), n.ReLU(),
            n.Upsample(scale_factor=2, mode="nearest"), ConvLayer(64, 32, 3, 1),
            n.InstanceNorm2d(32, affine=True), n.ReLU(),
            ConvLayer(32, 3, 9, 1),
        )

    def forward(self, x):
        return self.layers(x)


def transformer_gflop(h, w):
    h2, w2, h4, w4 = h // 2, w // 2, h // 4, w // 4
    return (conv_gflop(1, 3, 32, 9, h, w) + conv_gflop(1, 32, 64, 3, h2, w2)
            + conv_gflop(1, 64, 128, 3, h4, w4) + 10 * conv_gflop(1, 128, 128, 3, h4, w4)
            + conv_gflop(1, 128, 64, 3, h2, w2) + conv_gflop(1, 64, 32, 3, h, w)
            + conv_gflop(1, 32, 3, 9, h, w))


def bench_apply(runs):
    torch.manual_seed(0)
    net = Transformer().eval()
    with torch.no_grad():
        for size in (256, 1024):
            xs = filled(1, 3, size, size) * 127.0 + 128.0
            measure(f"transformer_fwd_1x3x{size}x{size}", transformer_gflop(size, size), runs,
                    lambda: net(xs))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=["ops", "apply"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'name':<34} {'median ms':>10} {'GFLOP/s':>9} {'of peak':>8}")
    {"ops": bench_ops, "apply": bench_apply}[args.workload](args.runs)


if __name__ == "__main__":
    main()
