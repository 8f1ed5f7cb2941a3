"""The methods tfreid trains: name -> module with `Params`, `build`, `train_step` (see DESIGN.md)."""

METHODS: dict = {}
