"""PyTorch reference for `hyperplane bench trainer`: the same shapes, single-threaded.

Prints one JSON object with seconds per epoch (median over epochs) for
MLP 784-256-256-10 on 60000x784 random inputs (batch 128) and 64-64-10 on the
bundled digits (batch 64), SGD with momentum 0.9, softmax cross-entropy.
"""
import gzip
import json
import pathlib
import statistics
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
ROOT = pathlib.Path(__file__).resolve().parent.parent


def epoch_times(x, y, hidden, batch, epochs):
    torch.manual_seed(0)
    layers, width = [], x.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 10))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rng = np.random.default_rng(0)
    big_x = torch.from_numpy(rng.random((60000, 784), dtype=np.float32))
    big_y = torch.from_numpy(rng.integers(0, 10, 60000))
    with gzip.open(ROOT / "data" / "digits.csv.gz", "rt") as f:
        digits = np.loadtxt(f, delimiter=",", dtype=np.float32)
    dx = digits[:, :-1]
    dx = (dx - dx.mean(0)) / np.where(dx.std(0) > 0, dx.std(0), 1)
    small_x = torch.from_numpy(dx.astype(np.float32))
    small_y = torch.from_numpy(digits[:, -1].astype(np.int64))
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mlp_784_256_256_10_b128_s": epoch_times(big_x, big_y, [256, 256], 128, epochs),
        "mlp_64_64_10_digits_b64_s": epoch_times(small_x, small_y, [64], 64, max(epochs, 10)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
