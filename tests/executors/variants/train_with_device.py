# task: train_loop; callable: train; as: train_correct
# ruff: noqa  (candidate code: test data, not project code)
import torch


def train(model, dataloader, criterion, optimizer, device, num_epochs, max_norm):
    """The hold-out order: criterion before optimizer, a device, max_norm without a default."""
    model.to(device)
    model.train()
    for _ in range(num_epochs):
        for batch in dataloader:
            inputs, labels = batch["input"].to(device), batch["labels"].to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
