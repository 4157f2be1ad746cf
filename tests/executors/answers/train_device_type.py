# ruff: noqa  (candidate code: test data, not project code)
# The seed's 10.1 loop as candidates write it: a `device` parameter, used through `device.type`.
import torch


def train(model, dataloader, optimizer, criterion, device, num_epochs, max_norm=1.0):
    model.train()
    use_amp = device.type == "cuda"
    for _ in range(num_epochs):
        for batch in dataloader:
            inputs, labels = batch["input"].to(device), batch["labels"].to(device)
            optimizer.zero_grad()
            with torch.autocast(device_type=device.type, enabled=use_amp):
                loss = criterion(model(inputs), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
