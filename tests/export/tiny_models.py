"""Small PyTorch models the export tests build (loaded by file path: `tiny_models.py:factory`)."""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 3
PERSON_CLASS = 1


class TinySegmenter(nn.Module):
    """A torchvision-style segmenter: {"out": logits N×C×H×W, "aux": …} at input resolution."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(16, num_classes, 1)
        self.aux = nn.Conv2d(16, num_classes, 1)
        self.pixel = nn.Conv2d(3, num_classes, 1)  # a colour rule, so masks are not trivial

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone(x)
        size = x.shape[-2:]
        up = nn.functional.interpolate
        logits = up(self.classifier(features), size=size, mode="bilinear", align_corners=False)
        return {
            "out": logits + self.pixel(x),
            "aux": up(self.aux(features), size=size, mode="bilinear", align_corners=False),
        }


def _colour_rule(model: TinySegmenter) -> TinySegmenter:
    """Weights that make the output depend strongly on the image (reddish → class 1)."""
    with torch.no_grad():
        model.pixel.weight.zero_()
        model.pixel.bias.zero_()
        model.pixel.weight[PERSON_CLASS, :, 0, 0] = torch.tensor([8.0, -4.0, -4.0])
        model.pixel.bias[PERSON_CLASS] = 0.5
    return model


def tiny_segmenter() -> nn.Module:
    torch.manual_seed(0)
    return _colour_rule(TinySegmenter())


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def classifier() -> nn.Module:
    torch.manual_seed(0)
    return Classifier()


@torch.library.custom_op("siteveil_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


@mystery.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class MysteryModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, NUM_CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mystery(self.conv(x))


def mystery_model() -> nn.Module:
    torch.manual_seed(0)
    return MysteryModel()


class LabelModel(nn.Module):
    """A model that returns per-pixel class ids itself (int64 N×H×W)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = TinySegmenter()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)["out"].argmax(dim=1)


def label_model() -> nn.Module:
    torch.manual_seed(0)
    model = LabelModel()
    _colour_rule(model.inner)
    return model
