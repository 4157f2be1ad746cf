# ruff: noqa  (candidate code: test data, not project code)
import torch


def train(model, dataloader, optimizer, criterion, num_epochs, max_norm=1.0):
    """Wrong order: clipping after the step changes nothing."""
    model.train()
    for _ in range(num_epochs):
        for batch in dataloader:
            optimizer.zero_grad()
            loss = criterion(model(batch["input"]), batch["labels"])
            loss.backward()
            optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
