"""Vision use case: defect classification of part images with PyTorch Lightning, data-parallel via TorchDistributor."""
