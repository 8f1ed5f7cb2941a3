"""The input check shared by the layers called as `layer([first, second])`."""


def split_pair(inputs, layer_name: str, pair_names: str, what: str):
    """Returns `inputs` if it is a pair (of tensors or of shapes); raises otherwise.

    Args:
        inputs: what `call`, `build` or `compute_output_shape` received.
        layer_name: the layer class, for the message.
        pair_names: how the pair reads, e.g. "[x, modality]".
        what: "inputs" or "input_shape".

    Raises:
        ValueError naming the layer, the expected pair and what was received.
    """
    # A bare shape such as (4, 3) is also a pair: its items are ints, not shapes.
    is_pair = isinstance(inputs, (list, tuple)) and len(inputs) == 2
    if not is_pair or any(item is None or isinstance(item, int) for item in inputs):
        raise ValueError(
            f"{layer_name} expects {what} to be {pair_names} (a list of 2); received {inputs!r}"
        )
    return inputs
