"""PyTorch networks written for the conversion tests: ResNet-50 in torchvision's layout and MLFN
in torchreid's, with those projects' state-dict key names (torch is the `convert` extra).

Both return their intermediate maps so that a test compares every stage. `randomise` gives
every batch norm random affine weights and running statistics, so that a swapped or
transposed weight changes the output.
"""

import torch
import torch.nn.functional as F
from torch import nn

RESNET50_LAYERS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # width, blocks, stride
MLFN_GROUPS = 32
# (output channels, blocks, stride of the first block, FSM widths) per MLFN stage
MLFN_STAGES = (
    (256, 3, 1, (128, 64)),
    (512, 4, 2, (256, 128)),
    (1024, 6, 2, (512, 128)),
    (2048, 3, 2, (512, 128)),
)


def conv_bn(cin, cout, kernel=1, stride=1, padding=0, groups=1, bias=False):
    return nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=bias), nn.BatchNorm2d(
        cout
    )


class TorchvisionBottleneck(nn.Module):
    """The stride sits in the 3x3 conv (conv2), padded 1; no conv has a bias."""

    def __init__(self, cin, width, stride, project):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, width)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride, 1)
        self.conv3, self.bn3 = conv_bn(width, 4 * width)
        self.downsample = nn.Sequential(*conv_bn(cin, 4 * width, 1, stride)) if project else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class TorchvisionResNet50(nn.Module):
    """forward(x [B, 3, H, W]) -> [stem (after the max pool), layer1, layer2, layer3, layer4]."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 64, 7, 2, 3)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for index, (width, blocks, stride) in enumerate(RESNET50_LAYERS):
            layer = [TorchvisionBottleneck(cin, width, stride, project=True)]
            layer += [TorchvisionBottleneck(4 * width, width, 1, False) for _ in range(blocks - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*layer))
            cin = 4 * width
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        maps = [self.maxpool(F.relu(self.bn1(self.conv1(x))))]
        for index in range(1, 5):
            maps.append(getattr(self, f"layer{index}")(maps[-1]))
        return maps


class TorchreidMLFNBlock(nn.Module):
    def __init__(self, cin, cout, stride, fsm_widths):
        super().__init__()
        mid = cout // 2
        self.fm_conv1, self.fm_bn1 = conv_bn(cin, mid)
        self.fm_conv2, self.fm_bn2 = conv_bn(mid, mid, 3, stride, 1, groups=MLFN_GROUPS)
        self.fm_conv3, self.fm_bn3 = conv_bn(mid, cout)
        first, second = fsm_widths
        self.fsm = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            *conv_bn(cin, first, bias=True),
            nn.ReLU(),
            *conv_bn(first, second, bias=True),
            nn.ReLU(),
            *conv_bn(second, MLFN_GROUPS, bias=True),
            nn.Sigmoid(),
        )
        project = cin != cout or stride > 1
        self.downsample = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if project else None

    def forward(self, x):
        s = self.fsm(x)  # [B, 32, 1, 1]
        y = F.relu(self.fm_bn1(self.fm_conv1(x)))
        y = F.relu(self.fm_bn2(self.fm_conv2(y)))
        b, c = y.shape[:2]
        n = c // MLFN_GROUPS
        # torchreid's selection: repeat, then regroup so that group g owns channels g*n..
        scale = s.repeat(1, n, 1, 1).view(b, n, MLFN_GROUPS).permute(0, 2, 1).reshape(b, c)
        y = F.relu(self.fm_bn3(self.fm_conv3(y * scale[:, :, None, None])))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut), s


class TorchreidMLFN(nn.Module):
    """forward(x) -> (final map [B, 2048, h, w], S [B, 512], v [B, 1024]) in inference mode."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 64, 7, 2, 3, bias=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        blocks, cin = [], 64
        for cout, count, stride, widths in MLFN_STAGES:
            for index in range(count):
                blocks.append(TorchreidMLFNBlock(cin, cout, stride if index == 0 else 1, widths))
                cin = cout
        self.feature = nn.ModuleList(blocks)
        self.fc_x = nn.Sequential(*conv_bn(2048, 1024), nn.ReLU())
        self.fc_s = nn.Sequential(*conv_bn(MLFN_GROUPS * 16, 1024), nn.ReLU())
        self.classifier = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        selections = []
        for block in self.feature:
            x, s = block(x)
            selections.append(s)
        s = torch.cat(selections, 1)
        v = (self.fc_x(F.adaptive_avg_pool2d(x, 1)) + self.fc_s(s)) * 0.5
        return x, s.flatten(1), v.flatten(1)


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Random batch-norm weights and running statistics, random conv biases; eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                size = layer.num_features
                layer.weight.copy_(0.5 + torch.rand(size, generator=generator))
                layer.bias.copy_(0.1 * torch.randn(size, generator=generator))
                layer.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                layer.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            elif isinstance(layer, nn.Conv2d) and layer.bias is not None:
                layer.bias.copy_(0.05 * torch.randn(layer.bias.shape, generator=generator))
    return module.eval()
