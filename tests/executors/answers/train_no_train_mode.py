# ruff: noqa  (candidate code: test data, not project code)
import torch


def train(model, dataloader, optimizer, criterion, num_epochs, max_norm=1.0):
    """Forgets model.train(): BatchNorm keeps using running statistics."""
    for _ in range(num_epochs):
        for batch in dataloader:
            optimizer.zero_grad()
            loss = criterion(model(batch["input"]), batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
