"""The networks: a DCGAN-style generator, a discriminator whose trunk feeds two heads
(the real/fake logit D and the auxiliary classifier q(y|x)), and the CNN classifiers used
for evaluation, which are never part of any GAN."""
from __future__ import annotations

import torch
from torch import nn


def to_unit(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images (N,28,28) → float (N,1,28,28) in [-1, 1], the scale every net sees."""
    return images_uint8.float().div(127.5).sub(1.0).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] (N,1,28,28) → uint8 images (N,28,28)."""
    return x.squeeze(1).add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


class Generator(nn.Module):
    """z and a one-hot code y → a 28×28 image (7×7 → 14×14 → 28×28)."""

    def __init__(self, z_dim: int, n_codes: int, width: int):
        super().__init__()
        self.z_dim, self.n_codes, self.width = z_dim, n_codes, width
        self.fc = nn.Sequential(nn.Linear(z_dim + n_codes, 4 * width * 49, bias=False),
                                nn.BatchNorm1d(4 * width * 49), nn.ReLU(True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(True),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        y = nn.functional.one_hot(codes, self.n_codes).to(z.dtype)
        h = self.fc(torch.cat([z, y], 1)).view(-1, 4 * self.width, 7, 7)
        return self.up(h)


class Dropout(nn.Module):
    """Inverted dropout drawing its mask with torch.rand: on the CPU this is about twice as
    fast as nn.Dropout's bernoulli_, which was a third of a training step."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand_like(x).ge_(self.p)
        return x * keep / (1.0 - self.p)


class Discriminator(nn.Module):
    """A shared convolutional trunk with two heads: D(x) (a logit) and q(y|x) (logits),
    and for TAC-GAN a third, the twin classifier.

    Dropout in the trunk (on the input and between layers) keeps the auxiliary
    classifier from being exploited by the generator.
    """

    def __init__(self, n_codes: int, width: int, dropout_in: float, dropout: float,
                 twin: bool = False):
        super().__init__()
        self.trunk = nn.Sequential(
            Dropout(dropout_in),
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, True), Dropout(dropout),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True), Dropout(dropout),
            nn.Flatten())
        self.d_head = nn.Linear(2 * width * 49, 1)
        self.q_head = nn.Linear(2 * width * 49, n_codes)
        # TAC-GAN's twin classifier q_mi(y|x), fitted to generated samples only.  Made
        # last, so that the other layers' initial weights do not depend on it.
        self.twin_head = nn.Linear(2 * width * 49, n_codes) if twin else None

    def forward(self, x: torch.Tensor):
        """(D logit, q logits, twin logits or None)."""
        h = self.trunk(x)
        twin = self.twin_head(h) if self.twin_head is not None else None
        return self.d_head(h).squeeze(1), self.q_head(h), twin


class Classifier(nn.Module):
    """A small VGG-style CNN: the evaluator (10 digits) and the A-vs-B classifier."""

    def __init__(self, n_classes: int, width: int):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(True)]
        self.net = nn.Sequential(
            *block(1, width), *block(width, width), nn.MaxPool2d(2),
            *block(width, 2 * width), *block(2 * width, 2 * width), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 49, 128), nn.ReLU(True),
            nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
