# task: train_loop; callable: fit; as: train_correct
# ruff: noqa  (candidate code: test data, not project code)
import torch
from torch import nn


def fit(net, train_loader, opt, loss_fn, epochs, clip=1.0):
    """Every parameter under another common name."""
    net.train()
    for _ in range(epochs):
        for batch in train_loader:
            opt.zero_grad()
            loss_fn(net(batch["input"]), batch["labels"]).backward()
            nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
