"""The methods tfreid trains: name -> module with `Params`, `build`, `train_step` (DESIGN.md)."""

METHODS: dict = {}
