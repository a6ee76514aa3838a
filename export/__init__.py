"""Model build: TFLite / PyTorch → ONNX → TensorRT, parity checks, Triton configs, publishing."""
