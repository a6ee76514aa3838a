"""The single-machine stack: AWS emulator (moto), event relay, Triton and the transformer."""
