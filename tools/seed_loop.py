"""The tutorial's training loop, verbatim in substance: the baseline the benchmarks compare against.

torchvision FashionMNIST with transforms.ToTensor(), a DataLoader (batch 256,
shuffle, num_workers=0), nn.Sequential(Flatten, Linear(784, 10)) with N(0, 0.01)
weights, CrossEntropyLoss and SGD(lr=0.1). Only the tqdm bar and the download
are left out (the files are already local; see fmnist_lib.data).
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def make_loaders(root: str, batch_size: int = 256):
    transform = transforms.ToTensor()
    train_ds = datasets.FashionMNIST(root=root, train=True, download=False, transform=transform)
    test_ds = datasets.FashionMNIST(root=root, train=False, download=False, transform=transform)
    train_iter = DataLoader(train_ds, batch_size=batch_size, shuffle=True, num_workers=0, pin_memory=False)
    test_iter = DataLoader(test_ds, batch_size=batch_size, shuffle=False, num_workers=0, pin_memory=False)
    return train_iter, test_iter


def make_net() -> nn.Module:
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    net.apply(init_weights)
    return net


@torch.no_grad()
def evaluate(model, data_iter):
    model.eval()
    correct, total = 0, 0
    for X, y in data_iter:
        logits = model(X)
        pred = logits.argmax(dim=1)
        correct += (pred == y).sum().item()
        total += y.numel()
    return correct / total


def run(root: str, epochs: int = 10, seed: int = 0, on_epoch=None) -> list[dict]:
    """Train as the tutorial does; one dict per epoch (seconds include the test evaluation)."""
    torch.manual_seed(seed)
    train_iter, test_iter = make_loaders(root)
    net = make_net()
    loss_fn = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        net.train()
        running_loss, running_acc, n = 0.0, 0.0, 0
        for X, y in train_iter:
            logits = net(X)
            loss = loss_fn(logits, y)
            trainer.zero_grad()
            loss.backward()
            trainer.step()
            bs = y.size(0)
            running_loss += loss.item() * bs
            running_acc += (logits.argmax(dim=1) == y).sum().item()
            n += bs
        test_acc = evaluate(net, test_iter)
        row = {
            "epoch": epoch,
            "train_loss": running_loss / n,
            "train_acc": running_acc / n,
            "test_acc": test_acc,
            "seconds": time.perf_counter() - start,
        }
        history.append(row)
        if on_epoch:
            on_epoch(row)
    return history
