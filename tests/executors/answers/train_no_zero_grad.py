# ruff: noqa  (candidate code: test data, not project code)
import torch


def train(model, dataloader, optimizer, criterion, num_epochs, max_norm=1.0):
    """The bug of 10.1: gradients accumulate across steps."""
    model.train()
    for _ in range(num_epochs):
        for batch in dataloader:
            loss = criterion(model(batch["input"]), batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
