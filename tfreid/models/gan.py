"""The generators and discriminators of TS-GAN (docs/methods/tsgan.md, C1).

TS-GAN gives no architecture (C1); we build CycleGAN's (Zhu et al., ICCV 2017) for the two
generators G_I, G_R and the RGB discriminator D_R, and AlignGAN's (Wang et al., ICCV 2019)
joint (image, feature map) design for the IR discriminator D_I. Layouts follow the public
PyTorch code (`ResnetGenerator`, `NLayerDiscriminator`, `ConditionalDiscriminator`):

- Instance norm is `GroupNormalization(groups=-1)`: one group per channel, statistics over
  H x W of each sample, the biased variance, as `torch.nn.InstanceNorm2d`. CycleGAN's has no
  affine parameters (`center=False, scale=False`) and eps 1e-5 (Keras's default is 1e-3).
- Convs keep their bias, as CycleGAN does with instance norm, so the parameter counts equal
  the published ones (generator 11,378,179, PatchGAN 2,764,737). A bias feeding an instance
  norm is subtracted away with the channel mean: it gets no gradient and changes nothing.
- PyTorch's `padding=1` of a conv is an explicit `ZeroPadding2D(1)` (or reflection padding,
  `ReflectionPadding2D`, where CycleGAN reflects) before a "valid" conv.
- The generator's `ConvTranspose2d(3, stride 2, padding 1, output_padding 1)` is a "valid"
  `Conv2DTranspose` (2h + 1 rows) without its first row and column: the same alignment, so
  PyTorch weights carry over (transposed to [k, k, out, in], not flipped); Keras's "same"
  padding would shift the output by a pixel.
- Weights start from Normal(0, 0.02), biases from 0 (CycleGAN's `init_weights("normal")`).

The networks take images of any size above a minimum. The generator returns its input's size
only when H and W are multiples of 4 (otherwise 4 ceil(H/4) x 4 ceil(W/4)), and needs H, W >= 8.
The PatchGAN (n_layers 3) needs H, W >= 24. The joint discriminator needs H, W >= 32 and one of
them >= 64: a 1 x 1 map before its last instance norm would be normalised to zeros.
"""

import keras
from keras import layers

from tfreid.layers.reflection_padding import ReflectionPadding2D
from tfreid.layers.resize_like import ResizeLike

# torch.nn.InstanceNorm2d's default epsilon.
INSTANCE_NORM_EPSILON = 1e-5
LEAKY_RELU_SLOPE = 0.2
INIT_STDDEV = 0.02
# The generator halves H and W twice, then doubles them twice.
GENERATOR_STRIDE = 4


def _kernel_init():
    # A fresh initializer per layer: one unseeded instance would give every layer the same values.
    return keras.initializers.RandomNormal(mean=0.0, stddev=INIT_STDDEV)


def _check_int(value, what: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}.")


def apply_conv_block(
    x,
    filters: int,
    kernel_size: int,
    stride: int,
    name: str,
    pad: int = 0,
    reflect: bool = False,
    norm: bool = True,
    activation: str | None = "relu",
    use_bias: bool = True,
):
    """Padding, conv, non-affine instance norm and activation, each optional but the conv.

    Args:
        x: float32 [B, H, W, C].
        filters: output channels.
        kernel_size: square kernel size k.
        stride: conv stride s.
        name: layer name prefix; layers are f"{name}_pad", "_conv", "_norm", "_relu"/"_lrelu".
        pad: rows and columns added on every side (PyTorch's `padding`), 0 for none.
        reflect: mirror the border when padding instead of adding zeros.
        norm: instance norm after the conv.
        activation: "relu", "leaky_relu" (slope 0.2) or None.
        use_bias: conv bias.

    Returns:
        float32 [B, (H + 2 pad - k) // s + 1, (W + 2 pad - k) // s + 1, filters].
    """
    if pad:
        padding = ReflectionPadding2D if reflect else layers.ZeroPadding2D
        x = padding(pad, name=f"{name}_pad")(x)
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        use_bias=use_bias,
        kernel_initializer=_kernel_init(),
        name=f"{name}_conv",
    )(x)
    if norm:
        x = _instance_norm(f"{name}_norm")(x)
    return _activation(x, activation, name)


def _instance_norm(name: str) -> layers.Layer:
    return layers.GroupNormalization(
        groups=-1, epsilon=INSTANCE_NORM_EPSILON, center=False, scale=False, name=name
    )


def _activation(x, activation: str | None, name: str):
    if activation == "relu":
        return layers.ReLU(name=f"{name}_relu")(x)
    if activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"{name}_lrelu")(x)
    if activation is None:
        return x
    raise ValueError(f"activation must be 'relu', 'leaky_relu' or None, got {activation!r}.")


def apply_resnet_block(x, name: str):
    """CycleGAN residual block: two reflection-padded 3x3 convs + instance norm, identity skip.

    Args:
        x: float32 [B, H, W, C], H, W >= 2.
        name: layer name prefix, e.g. "g_ir_block1" (convs f"{name}_1_conv", f"{name}_2_conv").

    Returns:
        float32 [B, H, W, C]: x + norm(conv(relu(norm(conv(x))))), no activation after the sum.
    """
    channels = x.shape[-1]
    y = apply_conv_block(x, channels, 3, 1, f"{name}_1", pad=1, reflect=True)
    y = apply_conv_block(y, channels, 3, 1, f"{name}_2", pad=1, reflect=True, activation=None)
    return layers.Add(name=f"{name}_add")([x, y])


def apply_upsample_block(x, filters: int, name: str):
    """3x3 stride-2 transposed conv (PyTorch padding 1, output_padding 1) + norm + ReLU.

    Args:
        x: float32 [B, H, W, C].
        filters: output channels.
        name: layer name prefix; layers f"{name}_convt", "_crop", "_norm", "_relu".

    Returns:
        float32 [B, 2 H, 2 W, filters]; input pixel i feeds output rows 2i - 1 .. 2i + 1.
    """
    x = layers.Conv2DTranspose(
        filters, 3, strides=2, kernel_initializer=_kernel_init(), name=f"{name}_convt"
    )(x)
    x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_crop")(x)
    x = _instance_norm(f"{name}_norm")(x)
    return _activation(x, "relu", name)


def build_resnet_generator(
    blocks: int = 9,
    filters: int = 64,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    name: str = "resnet_generator",
) -> keras.Model:
    """CycleGAN's ResNet generator ("resnet_9blocks" with the defaults).

    c7s1-f, d2f, d4f, `blocks` residual blocks at 4f channels, u2f, uf, c7s1-channels, tanh
    (f = `filters`); see the module notes for padding, normalisation and initialisation.

    Args:
        blocks: residual blocks (9 for CycleGAN's 256-px images, 6 for 128 px), >= 0.
        filters: width f of the first conv.
        channels: input and output image channels.
        image_size: (H, W) to fix the input size (both multiples of 4), or None for any size.
        name: model name, also the prefix of every layer name.

    Returns:
        A model mapping float32 [B, H, W, channels] to float32 [B, H, W, channels] in
        [-1, 1] (H, W multiples of 4, >= 8).
    """
    _check_int(blocks, "blocks", minimum=0)
    _check_int(filters, "filters")
    _check_int(channels, "channels")
    height, width = _check_image_size(image_size)
    images = keras.Input(shape=(height, width, channels), name=f"{name}_input")
    x = apply_conv_block(images, filters, 7, 1, f"{name}_stem", pad=3, reflect=True)
    x = apply_conv_block(x, 2 * filters, 3, 2, f"{name}_down1", pad=1)
    x = apply_conv_block(x, 4 * filters, 3, 2, f"{name}_down2", pad=1)
    for index in range(1, blocks + 1):
        x = apply_resnet_block(x, f"{name}_block{index}")
    x = apply_upsample_block(x, 2 * filters, f"{name}_up1")
    x = apply_upsample_block(x, filters, f"{name}_up2")
    x = apply_conv_block(
        x, channels, 7, 1, f"{name}_head", pad=3, reflect=True, norm=False, activation=None
    )
    outputs = layers.Activation("tanh", name=f"{name}_tanh")(x)
    return keras.Model(images, outputs, name=name)


def _check_image_size(image_size) -> tuple[int | None, int | None]:
    if image_size is None:
        return None, None
    valid = isinstance(image_size, (tuple, list)) and len(image_size) == 2
    if not valid or any(
        isinstance(size, bool) or not isinstance(size, int) or size < 8 or size % 4
        for size in image_size
    ):
        raise ValueError(
            "image_size must be (H, W) with H and W multiples of "
            f"{GENERATOR_STRIDE} and >= 8 (so the output has the input's size), "
            f"got {image_size!r}."
        )
    return tuple(image_size)


def build_patch_discriminator(
    filters: int = 64, n_layers: int = 3, channels: int = 3, name: str = "patch_discriminator"
) -> keras.Model:
    """CycleGAN's PatchGAN discriminator (the "70x70" one with n_layers = 3).

    4x4 convs, each after a zero padding of 1: f filters, stride 2 (LeakyReLU 0.2, no norm),
    then f min(2^n, 8) for n = 1..n_layers (stride 2, the last one stride 1; instance norm,
    LeakyReLU), then 1 filter, stride 1: raw logits, no sigmoid.

    Args:
        filters: width f of the first conv.
        n_layers: the normalised convs; 3 gives a 70x70 receptive field.
        channels: image channels.
        name: model name, also the prefix of every layer name.

    Returns:
        A model mapping float32 [B, H, W, channels] to float32 logits [B, h, w, 1]; with
        n_layers = 3, h = H/8 - 2 for H a multiple of 8 (256 x 128 -> 30 x 14).
    """
    _check_int(filters, "filters")
    _check_int(n_layers, "n_layers")
    _check_int(channels, "channels")
    images = keras.Input(shape=(None, None, channels), name=f"{name}_input")
    x = apply_conv_block(
        images, filters, 4, 2, f"{name}_conv1", pad=1, norm=False, activation="leaky_relu"
    )
    for index in range(1, n_layers + 1):
        stride = 2 if index < n_layers else 1
        width = filters * min(2**index, 8)
        x = apply_conv_block(
            x, width, 4, stride, f"{name}_conv{index + 1}", pad=1, activation="leaky_relu"
        )
    logits = apply_conv_block(x, 1, 4, 1, f"{name}_logits", pad=1, norm=False, activation=None)
    return keras.Model(images, logits, name=name)


def build_joint_discriminator(
    feature_channels: int = 1024,
    filters: int = 64,
    channels: int = 3,
    name: str = "joint_discriminator",
) -> keras.Model:
    """AlignGAN's joint discriminator of an image and a feature map of that image (C1).

    Image path: 4x4/2 convs f (LeakyReLU), 2f and 4f (instance norm, LeakyReLU): 1/8 of the
    image. Feature path: 1x1 conv to f + LeakyReLU, bilinearly resized to the image path's
    grid. Both concatenated (image first), then 4x4/2 convs 8f and 16f (instance norm,
    LeakyReLU) and a bias-free 3x3 conv to 1 channel: raw patch logits. 4x4 and 3x3 convs
    pad 1 with zeros, as AlignGAN's `ConditionalDiscriminator`.

    Args:
        feature_channels: channels of the feature map (1024: the student's ResNet-50 layer3).
        filters: width f of the first conv.
        channels: image channels.
        name: model name, also the prefix of every layer name.

    Returns:
        A model mapping [image float32 [B, H, W, channels], feature map float32
        [B, h, w, feature_channels]] (any h, w) to float32 logits [B, H/32, W/32, 1] for H, W
        multiples of 32 (256 x 128 image, 16 x 8 layer3 map -> 8 x 4).
    """
    _check_int(feature_channels, "feature_channels")
    _check_int(filters, "filters")
    _check_int(channels, "channels")
    images = keras.Input(shape=(None, None, channels), name=f"{name}_image")
    features = keras.Input(shape=(None, None, feature_channels), name=f"{name}_feature_map")
    lrelu = {"pad": 1, "activation": "leaky_relu"}
    x = apply_conv_block(images, filters, 4, 2, f"{name}_image1", norm=False, **lrelu)
    x = apply_conv_block(x, 2 * filters, 4, 2, f"{name}_image2", **lrelu)
    x = apply_conv_block(x, 4 * filters, 4, 2, f"{name}_image3", **lrelu)
    f = apply_conv_block(
        features, filters, 1, 1, f"{name}_feature", norm=False, activation="leaky_relu"
    )
    f = ResizeLike(name=f"{name}_feature_resize")([f, x])
    x = layers.Concatenate(name=f"{name}_concat")([x, f])
    x = apply_conv_block(x, 8 * filters, 4, 2, f"{name}_joint1", **lrelu)
    x = apply_conv_block(x, 16 * filters, 4, 2, f"{name}_joint2", **lrelu)
    logits = apply_conv_block(
        x, 1, 3, 1, f"{name}_logits", pad=1, norm=False, activation=None, use_bias=False
    )
    return keras.Model([images, features], logits, name=name)
